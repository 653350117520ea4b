"""Precision panel with real widgets, a real Session, real onnxruntime and real conversions/quantization."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli
from tests.corpus.catalog import CATALOG
from tests.corpus.test_corpus import CORPUS
from workbench.core.analysis.support import analyze_support
from workbench.core.model.loading import load_model
from workbench.core.precision.conversion import BF16_EMULATION
from workbench.core.precision.quantize import modelopt_available
from workbench.core.recipe import save_recipe
from workbench.ui.history_panel import HistoryPanel
from workbench.ui.precision_panel import FP8_UNAVAILABLE, PROBLEM_SOURCE, PrecisionPanel
from workbench.ui.session import Session
from workbench.ui.triage_panel import TriagePanel

WAIT_MS = 60_000
SENSITIVE = "sensor_centering_ts.onnx"
KEEP = CATALOG[SENSITIVE]["facts"]["bf16_sensitive"]


@pytest.fixture
def opened(qtbot, backend):
    def open_model(name):
        session = Session(backend)
        panel, triage, history = PrecisionPanel(session), TriagePanel(session), HistoryPanel(session)
        for widget in (panel, triage, history):
            qtbot.addWidget(widget)
            widget.show()
        model = load_model(CORPUS / name)
        session.set_model(model, analyze_support(model, backend), opened=True)
        return session, panel, triage, history
    return open_model


def choose(panel, mode):
    panel.mode.setCurrentIndex(panel.mode.findData(mode))


def wait_idle(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)


def test_modes_defaults_and_unavailable_fp8(opened):
    _session, panel, _triage, _history = opened(SENSITIVE)
    assert panel.mode_key == "fp32" and not panel.run_button.isEnabled()
    assert "Current model: FP32" in panel.current_precision.text()
    choose(panel, "bf16")
    assert BF16_EMULATION in panel.mode_note.text() and panel.bisect_button.isEnabled()
    assert (panel.atol.text(), panel.rtol.text()) == ("0.01", "0.03") and "BF16" in panel.tolerance_reason.text()
    choose(panel, "int8")
    assert panel.keep_label.text() == "Leave unquantized" and not panel.bisect_button.isEnabled()
    assert panel.calibration.isEnabled() and "Quantize" in panel.run_button.text()
    fp8 = panel.mode.findData("fp8")
    item = panel.mode.model().item(fp8)
    if modelopt_available():
        assert item.isEnabled()
    else:
        assert not item.isEnabled() and FP8_UNAVAILABLE in panel.mode.itemData(fp8, 3)  # 3: ToolTipRole


def test_keep_set_editing_by_name_op_type_and_selection(opened):
    session, panel, _triage, _history = opened(SENSITIVE)
    choose(panel, "fp16")
    assert not panel.keep_selected_button.isEnabled()
    panel.keep_entry.setText("ReduceMean")
    panel.add_button.click()
    panel.keep_entry.setText("no_such_node")
    panel.add_button.click()
    assert panel.keep_items() == ["ReduceMean"] and "neither a node name nor an op type" in panel.status.text()
    session.node_picked.emit("/Sub")  # a click in the graph
    assert panel.keep_selected_button.text() == "Keep selected (/Sub)"
    panel.keep_selected_button.click()
    panel.keep_list.item(0).setSelected(True)
    panel.remove_button.click()
    assert panel.keep_items() == ["/Sub"]


def test_bf16_bisect_marks_the_triage_list_and_the_triage_selection_can_be_kept(qtbot, opened):
    session, panel, triage, _history = opened(SENSITIVE)
    choose(panel, "bf16")
    panel.default_keep.setChecked(False)  # the default rules would keep /ReduceMean without the bisect
    assert panel.plan().default_keep is False
    phases = []
    shown = panel.bisect_task.on_progress  # the job controls' bar, which still shows every phase
    panel.bisect_task.on_progress = lambda phase, fraction: (phases.append(phase), shown(phase, fraction))
    assert panel.run_bisect() is not None and panel.cancel_button.isEnabled()
    wait_idle(qtbot, panel)
    assert set(panel.keep_items()) == set(KEEP) and len(phases) == panel.bisect_outcome.runs
    assert "Within tolerance" in panel.status.text() and BF16_EMULATION in panel.status.text()
    marked = [p for _item, p in triage.problem_items() if p.kind == "precision-keep"]
    assert {p.node for p in marked} == set(KEEP) and session.state.problems_from(PROBLEM_SOURCE)
    panel.set_keep_items([])
    item = next(item for item, p in triage.problem_items() if p.node == "/ReduceMean")
    triage.tree.setCurrentItem(item)  # the triage selection, as a click there
    panel.keep_selected_button.click()
    assert panel.keep_items() == ["/ReduceMean"]


def test_fp16_check_passes_with_the_default_rules_and_shows_the_overflow_without(qtbot, opened):
    _session, panel, _triage, _history = opened("l2_embedding_ts.onnx")
    choose(panel, "fp16")
    assert "ReduceSum" in panel.default_keep.toolTip()
    panel.run_check()
    wait_idle(qtbot, panel)
    assert panel.result is not None and panel.result.check.passed, panel.status.text()  # the default rules
    panel.default_keep.setChecked(False)
    panel.run_check()
    wait_idle(qtbot, panel)
    assert panel.result is not None, panel.status.text()
    assert not panel.result.check.passed and "Overflows float16" in panel.status.text()
    assert panel.apply_button.isEnabled()


def test_bisect_cancel(qtbot, opened):
    _session, panel, _triage, _history = opened(SENSITIVE)
    choose(panel, "bf16")
    panel.run_bisect()
    panel.cancel_button.click()
    wait_idle(qtbot, panel)
    assert panel.status.text() == "Cancelled." and panel.bisect_outcome is None and panel.bisect_button.isEnabled()


def test_bf16_convert_apply_undo_and_recipe_replay(qtbot, opened, tmp_path):
    session, panel, _triage, history = opened(SENSITIVE)
    original = session.model
    choose(panel, "bf16")
    panel.set_keep_items(KEEP)
    panel.run_check()
    wait_idle(qtbot, panel)
    result = panel.result
    assert result.check.passed and result.check.emulation == BF16_EMULATION
    assert panel.table.rowCount() == 1 and panel.table.item(0, 4).text() == "PASS"
    assert "BF16 (model types)" in panel.details.text()
    panel.apply_button.click()
    assert session.model is result.fix.after and len(session.history.steps) == 1
    assert session.recipe.fixes == [{"name": "convert-precision",
                                     "params": {"to": "bf16", "keep": KEEP, "keep_io": True,
                                                "default_keep": True}}]
    assert "BF16 (model types)" in panel.current_precision.text() and not panel.apply_button.isEnabled()
    recipe = save_recipe(session.recipe, tmp_path / "bf16.toml")
    session.undo()
    assert session.model is original and session.recipe.fixes == []
    replayed = run_cli("fix", CORPUS / SENSITIVE, "--recipe", recipe, "-o", tmp_path / "replayed.onnx")
    assert replayed.returncode == 0, replayed.stderr
    assert load_model(tmp_path / "replayed.onnx").serialized == result.fix.after.serialized


def test_int8_quantize_apply_and_recipe_replay(qtbot, opened, tmp_path):
    session, panel, _triage, _history = opened("l2_embedding_ts.onnx")
    choose(panel, "int8")
    panel.samples.setValue(2)
    panel.set_keep_items(["Gemm"])
    panel.run_check()
    wait_idle(qtbot, panel)
    assert panel.result is not None, panel.status.text()
    assert panel.table.rowCount() == 1 and panel.table.item(0, 4).text() in ("PASS", "FAIL", "CANNOT_JUDGE")
    assert "INT8 (Q/DQ)" in panel.details.text()
    panel.apply_button.click()
    assert session.recipe.fixes == [{"name": "quantize",
                                     "params": {"mode": "int8", "exclude": ["Gemm"], "samples": 2, "calib": ""}}]
    recipe = save_recipe(session.recipe, tmp_path / "int8.toml")
    replayed = run_cli("fix", CORPUS / "l2_embedding_ts.onnx", "--recipe", recipe, "-o", tmp_path / "int8.onnx",
                       "--no-parity")
    assert replayed.returncode == 0, replayed.stderr
    ops = {node.op_type for node in load_model(tmp_path / "int8.onnx").proto.graph.node}
    assert "QuantizeLinear" in ops


def test_int8_calibrates_on_the_compare_panels_data_file(qtbot, opened, tmp_path):
    import numpy as np

    from workbench.core.shapes.suggest import suggested_feeds

    session, panel, _triage, _history = opened("l2_embedding_ts.onnx")
    choose(panel, "int8")
    panel.calibration.setCurrentIndex(1)
    assert not panel.samples.isEnabled()
    panel.run_check()
    assert "hold no .npz data file" in panel.status.text() and not panel.running
    samples = [suggested_feeds(session.model, seed=seed)["image"] for seed in range(3)]
    np.savez(tmp_path / "calib.npz", image=np.concatenate(samples))
    session.recipe.inputs = {"seed": 0, "data_files": [str(tmp_path / "calib.npz")]}  # as the Compare panel keeps it
    panel.run_check()
    wait_idle(qtbot, panel)
    assert panel.result is not None, panel.status.text()
    assert panel.result.fix.step.param_dict["calib"] == str(tmp_path / "calib.npz")
    assert "3 samples from" in panel.details.text()
