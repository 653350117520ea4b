"""A result belongs to the model it was computed on: open A → build → compare → open B leaves nothing of A's on
screen, and a model-vs-model comparison never turns the strip's "Matches onnxruntime" green."""

from __future__ import annotations

from tests.ui.conftest import LOAD_TIMEOUT_MS, freeze_the_parser_error_input, open_and_wait, settle_window
from workbench.core.compare.comparison import CompareSettings, run_comparison
from workbench.core.compare.inputs import InputSpec


def test_opening_another_model_clears_the_build_and_the_comparison_of_the_first(qtbot, window, samples, tmp_path):
    strip, build, compare = window.status_strip, window.panels["build"], window.panels["compare"]
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    settle_window(qtbot, window)
    build.output.setText(str(tmp_path / "clean_cnn.engine"))
    window.build_action.trigger()
    qtbot.waitUntil(lambda: strip.state("engine") not in ("running", "none"), timeout=LOAD_TIMEOUT_MS)
    assert strip.state("engine") == "ok" and "Built" in build.status.text()
    assert compare.engine_path.text() == str(tmp_path / "clean_cnn.engine")  # handed to the Compare panel

    compare.target.setCurrentIndex(0)  # original vs current model: the model against itself
    assert compare.run_comparison() is not None
    qtbot.waitUntil(lambda: compare.result is not None and not compare.compare_task.running, timeout=LOAD_TIMEOUT_MS)
    assert compare.result.passed
    # Model vs model proves nothing about TensorRT: no ✓ "Matches onnxruntime".
    assert strip.state("compare") == "none"

    open_and_wait(qtbot, window, samples / "groupnorm.onnx")
    settle_window(qtbot, window)
    assert "No engine built from this model yet" in build.status.text() and not build.summary.toPlainText()
    assert compare.result is None and compare.table.rowCount() == 0
    assert "No comparison of this model yet" in compare.verdict.text()
    assert compare.engine_path.text() == ""  # the engine was built from the other model
    assert (strip.state("engine"), strip.state("compare")) == ("none", "none")


def test_the_title_keeps_the_file_name_after_a_fix_and_says_it_changed(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    settle_window(qtbot, window)
    assert window.windowTitle() == "if_scalar.onnx — TensorRT Workbench"
    freeze_the_parser_error_input(qtbot, window)
    assert window.windowTitle() == "if_scalar.onnx • modified — TensorRT Workbench"
    window.session.undo()
    settle_window(qtbot, window)
    assert window.windowTitle() == "if_scalar.onnx — TensorRT Workbench"


def test_compare_feeds_the_original_the_value_a_fix_froze(qtbot, window, samples):
    """The fix's parity and the Compare panel judge the same pair the same way: the original gets the frozen
    value, not random data for a path the fixed model no longer has."""
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    settle_window(qtbot, window)
    freeze_the_parser_error_input(qtbot, window)
    compare = window.panels["compare"]
    compare.target.setCurrentIndex(0)
    assert compare.run_comparison() is not None
    qtbot.waitUntil(lambda: compare.result is not None and not compare.compare_task.running, timeout=LOAD_TIMEOUT_MS)
    assert compare.result.passed, compare.result.summary
    # Random data for the frozen input (what the panel fed before) judges another path and fails.
    unfed = run_comparison(window.session.original, CompareSettings(against="model"), InputSpec(),
                           against=window.session.model)
    assert not unfed.passed
