"""The window opens, triages and trial-builds a model whose weights sit in <model>.onnx.data, whatever folder the
app was started in: every reader resolves the data file relative to the model file."""

from __future__ import annotations

import onnx

from tests.conftest import ROOT
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait
from workbench.core.problems import ProblemKind


def test_a_model_with_a_data_file_is_triaged_from_another_folder(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    # The real GroupNorm export with every tensor in the data file, as torch.onnx's dynamo exporter saves it:
    # the GroupNorm detector reads its norm scales from there.
    onnx.save(onnx.load(str(ROOT / "tests" / "corpus" / "groupnorm_ts.onnx")), str(folder / "gn.onnx"),
              save_as_external_data=True, location="gn.onnx.data", size_threshold=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    errors = []
    window.session.error_reported.connect(lambda error, *_: errors.append(error))
    with qtbot.waitSignal(window.trial_build.finished, timeout=LOAD_TIMEOUT_MS):
        open_and_wait(qtbot, window, folder / "gn.onnx")
    assert not errors, [e.message for e in errors]
    kinds = [p.kind for p in window.session.problems]
    assert kinds.count(ProblemKind.GROUPNORM_PATTERN) == 2
    state, detail = window.session.stages["builds"]
    assert "fail" not in state and "fail" not in detail.lower(), detail
