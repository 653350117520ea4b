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
    assert compare.form.engine_path.text() == str(tmp_path / "clean_cnn.engine")  # handed to the Compare panel

    compare.form.target.setCurrentIndex(0)  # original vs current model: the model against itself
    assert compare.run_comparison() is not None
    qtbot.waitUntil(lambda: compare.result is not None and not compare.compare_task.running, timeout=LOAD_TIMEOUT_MS)
    assert compare.result.passed
    # Model vs model proves nothing about TensorRT: no ✓ "Matches onnxruntime".
    assert strip.state("compare") == "none"

    open_and_wait(qtbot, window, samples / "groupnorm.onnx")
    settle_window(qtbot, window)
    assert "No engine built from this model yet" in build.status.text() and not build.summary.toPlainText()
    assert compare.result is None and compare.results.table.rowCount() == 0
    assert "No comparison of this model yet" in compare.results.verdict.text()
    assert compare.form.engine_path.text() == ""  # the engine was built from the other model
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
    compare.form.target.setCurrentIndex(0)
    assert compare.run_comparison() is not None
    qtbot.waitUntil(lambda: compare.result is not None and not compare.compare_task.running, timeout=LOAD_TIMEOUT_MS)
    assert compare.result.passed, compare.result.summary
    # Random data for the frozen input (what the panel fed before) judges another path and fails.
    unfed = run_comparison(window.session.original, CompareSettings(against="model"), InputSpec(),
                           against=window.session.model)
    assert not unfed.passed


def _count_starts(monkeypatch, *tasks) -> list[str]:
    """Every start of ``tasks`` (the task helper's one way to run background work), by the task's source."""
    started: list[str] = []
    for task in tasks:
        start = task.start

        def counted(*args, _start=start, _task=task, **kwargs):
            started.append(_task.source)
            return _start(*args, **kwargs)

        monkeypatch.setattr(task, "start", counted)
    return started


def test_undo_and_redo_show_the_kept_verdict_and_triage_without_running_anything(qtbot, window, samples, monkeypatch):
    session, strip, triage = window.session, window.status_strip, window.panels["triage"]
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    settle_window(qtbot, window)
    before = (session.report, [p.message for p in session.problems], strip.state("parsed"), strip.state("builds"),
              window.trial_build.last)
    assert before[2:4] == ("failed", "failed") and any(p.kind == "parser-error" for p in session.problems)
    freeze_the_parser_error_input(qtbot, window)
    after = (session.report, [p.message for p in session.problems], strip.state("parsed"), strip.state("builds"),
             window.trial_build.last)
    assert after[2:4] == ("ok", "ok")

    started = _count_starts(monkeypatch, window.loader.task, window.trial_build.task)
    window.panels["history"].undo_button.click()
    assert (session.report, [p.message for p in session.problems], strip.state("parsed"), strip.state("builds"),
            window.trial_build.last) == before
    assert triage.tree.topLevelItemCount() and "parser-error" in {p.kind for p in session.problems}
    assert started == [] and not window.loader.busy and not window.trial_build.busy
    window.panels["history"].redo_button.click()
    assert (session.report, [p.message for p in session.problems], strip.state("parsed"), strip.state("builds"),
            window.trial_build.last) == after
    assert started == [] and not window.loader.busy and not window.trial_build.busy
    # "Analyse again" is a new analysis: it runs, and so does the trial build after it.
    window.analyse_action.trigger()
    settle_window(qtbot, window)
    assert started == ["analysis", "trial-build"]


def test_undo_shows_the_build_comparison_and_precision_check_kept_with_that_model(qtbot, window, samples, tmp_path,
                                                                                  monkeypatch):
    session, strip = window.session, window.status_strip
    build, compare, precision = window.panels["build"], window.panels["compare"], window.panels["precision"]
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    settle_window(qtbot, window)
    original = session.model
    build.output.setText(str(tmp_path / "clean_cnn.engine"))
    window.build_action.trigger()
    qtbot.waitUntil(lambda: strip.state("engine") not in ("running", "none"), timeout=LOAD_TIMEOUT_MS)
    build_status = build.status.text()
    assert strip.state("engine") == "ok" and "Built" in build_status
    compare.form.target.setCurrentIndex(0)
    assert compare.run_comparison() is not None
    qtbot.waitUntil(lambda: compare.result is not None and not compare.compare_task.running, timeout=LOAD_TIMEOUT_MS)
    comparison = compare.result
    precision.mode.setCurrentIndex(precision.mode.findData("fp16"))
    assert precision.run_check() is not None
    qtbot.waitUntil(lambda: precision.result is not None and not precision.running, timeout=LOAD_TIMEOUT_MS)
    check, check_status = precision.result, precision.status.text()

    precision.apply()  # the FP16 model becomes the current one: the results above are about the FP32 one
    settle_window(qtbot, window)
    assert session.model is not original and compare.result is None and precision.result is None
    assert "No engine built from this model yet" in build.status.text() and strip.state("engine") == "none"

    started = _count_starts(monkeypatch, window.loader.task, window.trial_build.task, build.build_task,
                            compare.compare_task, precision.check_task)
    session.undo()
    assert session.model is original and started == []
    assert build.status.text() == build_status and strip.state("engine") == "ok"
    assert compare.form.engine_path.text() == str(tmp_path / "clean_cnn.engine")
    assert compare.result is comparison and compare.results.table.rowCount() == len(comparison.outputs)
    assert precision.result is check and precision.status.text() == check_status
    assert precision.apply_button.isEnabled()  # the check is about this model: it can be applied again
    session.redo()
    assert started == [] and compare.result is None and precision.result is None and strip.state("engine") == "none"
