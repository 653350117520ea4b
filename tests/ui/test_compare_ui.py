"""The Compare panel on real models and a real engine file, driven like a user would with pytest-qt."""

from types import SimpleNamespace

import onnx
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from tests.compare_models import chain_model, perturbed, tiny_output_copy
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.compare.metrics import Verdict
from workbench.ui.compare_panel import ComparePanel
from workbench.ui.compare_results import RESULT_COLUMNS, VERDICT_COLOURS
from workbench.ui.session import Session

PASS_COLOUR, FAIL_COLOUR = VERDICT_COLOURS[Verdict.PASS], VERDICT_COLOURS[Verdict.FAIL]
CANNOT_JUDGE_COLOUR = VERDICT_COLOURS[Verdict.CANNOT_JUDGE]


@pytest.fixture
def session(backend, tmp_path):
    chain = chain_model(5)
    onnx.save(chain, tmp_path / "model.onnx")
    session = Session(backend)
    session.set_model(load_model(tmp_path / "model.onnx"), opened=True)
    session.fixed_proto = perturbed(chain, "scale_2")
    return session


@pytest.fixture
def panel(qtbot, session):
    panel = ComparePanel(session)
    qtbot.addWidget(panel)
    panel.resize(1100, 800)
    panel.show()
    return panel


def run_and_wait(qtbot, panel):
    assert panel.run_comparison() is not None
    qtbot.waitUntil(lambda: not panel.compare_task.running and not panel.results.plot_task.running, timeout=30_000)


def test_original_vs_fixed_model_fails_and_bisect_selects_the_node(qtbot, panel, session, tmp_path):
    session.set_model(LoadedModel.from_proto(session.fixed_proto))
    panel.form.bisect.setChecked(True)
    panel.form.timing_runs.setValue(5)
    qtbot.mouseClick(panel.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.result is not None and not panel.compare_task.running
                    and not panel.results.plot_task.running, timeout=30_000)
    assert "FAIL" in panel.results.verdict.text()
    table = panel.results.table
    assert table.rowCount() == 1 and table.item(0, RESULT_COLUMNS.index("verdict")).text() == "FAIL"
    assert panel.results.table.item(0, 0).background().color() == FAIL_COLOUR
    assert "mul_2" in panel.results.bisect_label.text() and panel.results.show_node.isEnabled()
    assert "median" in panel.results.timing_label.text()
    assert any(isinstance(item, pg.BarGraphItem) for item in panel.results.histogram.getPlotItem().items)
    assert panel.results.heatmap_image.image is not None and panel.results.heatmap_image.image.shape == (6, 6)
    with qtbot.waitSignal(session.node_selected) as selected:
        qtbot.mouseClick(panel.results.show_node, Qt.LeftButton)
    assert selected.args == ["mul_2"]
    assert session.recipe.compare["bisect"] is True and session.recipe.compare["against"] == "model"
    assert session.recipe.inputs["seed"] == 0
    with qtbot.waitSignal(session.log_message, timeout=30_000) as logged:
        panel.report.export(tmp_path / "report.html")
    assert "Comparison report written" in logged.args[0].text
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.json").is_file()


def test_unchanged_model_passes_green(qtbot, panel):
    run_and_wait(qtbot, panel)
    assert panel.result.passed and panel.results.table.item(0, 0).background().color() == PASS_COLOUR
    assert not panel.results.show_node.isEnabled()
    assert not panel.reduce_button.isEnabled() and "passed" in panel.reduce_button.toolTip()


def test_a_failed_model_comparison_offers_reduce_with_both_models(qtbot, panel, session):
    assert not panel.reduce_button.isEnabled() and "compare first" in panel.reduce_button.toolTip()
    original = session.model
    session.set_model(LoadedModel.from_proto(session.fixed_proto))  # same nodes, one weight changed
    run_and_wait(qtbot, panel)
    assert not panel.result.passed and panel.reduce_button.isEnabled()
    with qtbot.waitSignal(session.reduce_requested) as requested:
        qtbot.mouseClick(panel.reduce_button, Qt.LeftButton)
    request = requested.args[0]
    assert request.reference is original and request.test is session.model
    assert request.tolerances == panel.result.tolerances


def test_built_engine_is_picked_up_and_the_reason_it_cannot_run_is_shown(qtbot, panel, session, tmp_path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"ftrt" + b"\0" * 60 if session.backend.is_rtx else b"vtrt" + b"\0" * 60)
    session.engine_built.emit(SimpleNamespace(engine_path=str(engine)))
    assert panel.form.engine_path.text() == str(engine) and panel.form.target.currentIndex() == 1
    run_and_wait(qtbot, panel)
    assert "Cannot run model.engine here: it was built by" in panel.results.verdict.text()
    assert panel.result is None and panel.run_button.isEnabled()


def test_bad_tolerance_and_missing_image_are_reported_without_running(qtbot, panel, tmp_path):
    panel.form.atol.setText("tight")
    assert panel.run_comparison() is None
    assert "Cannot read atol 'tight'" in panel.results.verdict.text()
    panel.form.atol.setText("1e-5")
    panel.form.source.setCurrentIndex(2)
    panel.form.data_paths.setText(str(tmp_path / "missing.png"))
    run_and_wait(qtbot, panel)
    assert "Image not found" in panel.results.verdict.text()


def test_settings_come_back_from_the_recipe(qtbot, session):
    session.recipe.compare = {"against": "engine", "engine_path": "/x/m.engine", "atol": 0.001, "rtol": 0.01,
                              "timing_runs": 7, "bisect": True}
    session.recipe.inputs = {"seed": 5, "data_files": ["/x/data.npz"]}
    panel = ComparePanel(session)
    qtbot.addWidget(panel)
    assert (panel.form.target.currentIndex(), panel.form.engine_path.text()) == (1, "/x/m.engine")
    assert (panel.form.atol.text(), panel.form.rtol.text(), panel.form.timing_runs.value()) == ("0.001", "0.01", 7)
    assert panel.form.seed.value() == 5 and panel.form.source.currentIndex() == 1 and panel.form.bisect.isChecked()
    assert panel.form.input_spec().data_files == ["/x/data.npz"]


@pytest.fixture
def tiny_cnn_session(backend, samples, tmp_path):
    """clean_cnn with ~1e-9 logits opened as the original; tests set the current model."""
    tiny = tiny_output_copy(onnx.load(samples / "clean_cnn.onnx"), ("fc.weight", "fc.bias"))
    onnx.save(tiny, tmp_path / "tiny.onnx")
    session = Session(backend)
    session.set_model(load_model(tmp_path / "tiny.onnx"), opened=True)
    return session, tiny


def test_cannot_judge_and_fail_show_the_verdict_the_reason_and_their_colours(qtbot, tiny_cnn_session):
    session, tiny = tiny_cnn_session
    panel = ComparePanel(session)
    qtbot.addWidget(panel)
    panel.resize(1300, 800)
    panel.show()
    session.set_model(LoadedModel.from_proto(perturbed(tiny, "fc.weight", 1.001)))
    run_and_wait(qtbot, panel)
    verdict, reason = RESULT_COLUMNS.index("verdict"), RESULT_COLUMNS.index("reason")
    assert panel.result.verdict is Verdict.CANNOT_JUDGE
    assert panel.results.table.item(0, verdict).text() == "CANNOT_JUDGE"
    assert panel.results.table.item(0, reason).text().startswith("the largest |value| is")
    assert panel.results.table.item(0, 0).background().color() == CANNOT_JUDGE_COLOUR
    assert "CANNOT_JUDGE: 1 of 1 output(s) the tolerance cannot judge: logits" in panel.results.verdict.text()
    assert CANNOT_JUDGE_COLOUR.name() in panel.results.verdict.styleSheet()

    session.set_model(LoadedModel.from_proto(perturbed(tiny, "conv2.weight", 1.3)))
    run_and_wait(qtbot, panel)
    assert panel.results.table.item(0, verdict).text() == "FAIL"
    assert panel.results.table.item(0, reason).text().startswith("cosine 0.99")
    assert panel.results.table.item(0, 0).background().color() == FAIL_COLOUR
    assert panel.results.table.item(0, 0).toolTip() == panel.result.outputs[0].reason
    assert "FAIL: 1 of 1 output(s) fail: logits (cosine" in panel.results.verdict.text()
