"""Trial build on open and the repair dialog, in the real main window (real analysis child, builder, ORT)."""

from __future__ import annotations

import pytest

from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait
from workbench.core.recipe import load_recipe
from workbench.ui.trial_build_runner import SETTING_KEY

SEARCH_TIMEOUT_MS = 60_000


def _trial_problems(window):
    return [p for p in window.session.problems if p.stage == "build"]


def _triage_rows(window):
    return [(item.text(0), item.text(2)) for item, _problem in window.panels["triage"].problem_items()]


def skip_unless_nms_has_no_runners(backend):
    """The window builds with the active backend; only TensorRT-RTX lacks a NonMaxSuppression implementation."""
    if not backend.is_rtx:
        pytest.skip(f"{backend.name} {backend.version} builds NonMaxSuppression; the refusal is TensorRT-RTX's")


def test_a_model_the_builder_rejects_shows_a_build_problem_after_opening(qtbot, window, samples, backend):
    skip_unless_nms_has_no_runners(backend)
    open_and_wait(qtbot, window, samples / "nms_detector.onnx")
    qtbot.waitUntil(lambda: any(p.kind == "builder-error" for p in _trial_problems(window)), timeout=LOAD_TIMEOUT_MS)
    problem = next(p for p in _trial_problems(window) if p.kind == "builder-error")
    assert problem.node == "nms"
    assert any(node == "nms" and "no runners" in message for node, message in _triage_rows(window))


def test_the_setting_turns_the_trial_build_off(qtbot, make_window, settings, samples, backend):
    skip_unless_nms_has_no_runners(backend)
    settings.setValue(SETTING_KEY, False)
    window = make_window()
    assert not window.repair.trial_action.isChecked()
    open_and_wait(qtbot, window, samples / "nms_detector.onnx")
    assert not window.trial_build.busy and _trial_problems(window) == [
        p for p in window.session.problems if p.stage == "build" and p.kind == "nms"]
    window.repair.trial_action.setChecked(True)
    assert settings.value(SETTING_KEY) in (True, "true")
    qtbot.waitUntil(lambda: any(p.kind == "builder-error" for p in _trial_problems(window)), timeout=LOAD_TIMEOUT_MS)


def test_repair_dialog_applies_freeze_and_fold_undoably_after_confirmation(qtbot, window, samples, tmp_path):
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    original = window.session.model
    dialog = window.repair.open_dialog()
    qtbot.waitUntil(lambda: dialog.repair_result is not None and not dialog.search_task.running,
                    timeout=SEARCH_TIMEOUT_MS)
    shown = dialog.steps.toPlainText()
    assert "1. freeze-input:input=downsample_ratio" in shown
    assert "Changes meaning: the input becomes a constant" in shown
    assert dialog.confirm.isVisibleTo(dialog) and not dialog.apply_button.isEnabled()

    dialog.save_recipe_to(tmp_path / "repair.toml")
    assert load_recipe(tmp_path / "repair.toml").fixes[0]["name"] == "freeze-input"

    dialog.confirm.setChecked(True)
    assert dialog.apply_button.isEnabled()
    qtbot.mouseClick(dialog.apply_button, qtbot_left())
    assert window.session.model is not original
    assert [t.name for t in window.session.model.summary().inputs] == ["image"]
    assert window.session.recipe.fixes[0]["name"] == "freeze-input"
    window.session.undo()
    assert window.session.model is original and window.session.recipe.fixes == []


def test_profile_repair_is_applied_to_the_recipe_without_a_graph_change(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    model = window.session.model
    # The profile editor starts with a suggested profile; the user removes it, so the build has none.
    qtbot.mouseClick(window.panels["profiles"].remove_button, qtbot_left())
    assert window.session.recipe.profiles == []
    dialog = window.repair.open_dialog()
    qtbot.waitUntil(lambda: dialog.repair_result is not None and not dialog.search_task.running,
                    timeout=SEARCH_TIMEOUT_MS)
    assert not dialog.confirm.isVisibleTo(dialog) and dialog.apply_button.isEnabled()
    assert dialog.apply()
    assert window.session.model is model
    assert window.session.recipe.profiles[0]["shapes"]["images"]["opt"] == [1, 3, 64, 64]
    assert window.panels["profiles"].tabs.count() == 1
    history = window.session.history
    assert history.undo_label.startswith("Repair: optimization profile")
    window.session.undo()
    assert window.session.model is model and not history.can_undo and window.session.recipe.fixes == []


def test_cancel_stops_the_search(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "nms_detector.onnx")
    dialog = window.repair.open_dialog()
    assert dialog.cancel_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, qtbot_left())
    qtbot.waitUntil(lambda: not dialog.search_task.running, timeout=SEARCH_TIMEOUT_MS)
    assert dialog.repair_result is None and "cancelled" in dialog.status.text()
    assert dialog.search_button.isEnabled() and not dialog.apply_button.isEnabled()


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton
