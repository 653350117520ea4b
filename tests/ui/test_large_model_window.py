"""A large model in the window: no weight bytes in the window's model, a trial build that would not fit in
memory is skipped with its reason in the triage list and the status, and saving streams the weights."""

from __future__ import annotations

import onnx
from onnx import numpy_helper

from tests.core.model.test_large_models import matmul_stack
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait
from workbench.core.memory import MEMORY_LIMIT_VARIABLE
from workbench.core.problems import ProblemKind


def test_a_large_model_opens_weight_free_and_a_trial_build_that_would_not_fit_is_skipped(
        qtbot, window, tmp_path, monkeypatch):
    path = tmp_path / "stack.onnx"
    onnx.save_model(matmul_stack(layers=16), path)  # 64 MB of weights
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "128M")
    with qtbot.waitSignal(window.trial_build.finished, timeout=LOAD_TIMEOUT_MS):
        open_and_wait(qtbot, window, path)
    model = window.session.model
    assert sum(len(t.raw_data) for t in model.proto.graph.initializer) == 0 and len(model.serialized) < 64 * 1024
    skipped = [p for p in window.session.problems if p.kind == ProblemKind.TRIAL_BUILD_SKIPPED]
    assert len(skipped) == 1 and "skipped" in skipped[0].message
    assert "allowed by " + MEMORY_LIMIT_VARIABLE in skipped[0].message
    state, detail = window.session.stages["builds"]
    assert state == "none" and detail.startswith("Trial build skipped")

    copy = tmp_path / "copy.onnx"
    window.save_model_to(copy)
    qtbot.waitUntil(lambda: copy.exists() and not window.save_task.running, timeout=LOAD_TIMEOUT_MS)
    assert [numpy_helper.to_array(t).tobytes() for t in onnx.load(str(copy)).graph.initializer] == \
           [numpy_helper.to_array(t).tobytes() for t in onnx.load(str(path)).graph.initializer]
