"""The main window with real models: every way to open one, errors, saving, the panel registry."""

from __future__ import annotations

import threading

import onnx
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel

from tests.conftest import our_child_processes
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait, settle, wait_for_model
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.recipe import load_recipe
from workbench.ui import panels
from workbench.ui.app import DEFAULT_SAMPLE, parse_arguments, start_window
from workbench.ui.error_dialog import ExceptionHook




def test_opens_the_model_given_as_argument_and_closing_stops_every_child_it_started(qtbot, samples, settings):
    before = our_child_processes()
    window = start_window(parse_arguments([str(samples / "nms_detector.onnx")]), settings)
    try:
        wait_for_model(qtbot, window, samples / "nms_detector.onnx")
        assert "nms_detector.onnx" in window.windowTitle()
        assert window.session.original is window.session.model
    finally:
        settle(qtbot)
        started = our_child_processes() - before
        with qtbot.waitSignal(window.destroyed, timeout=LOAD_TIMEOUT_MS):
            window.close()
            window.deleteLater()
    assert started  # the analysis child, and the spare the trial build leaves for the next build
    assert our_child_processes() & started == set()  # the window's runtime stopped them all


def test_a_bundled_sample_is_named_on_the_command_line(samples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file of that name here
    assert parse_arguments(["nms_detector"]).model == str(samples / "nms_detector.onnx")
    assert parse_arguments(["nms_detector.onnx"]).model == str(samples / "nms_detector.onnx")


def test_without_a_model_opens_the_bundled_sample(qtbot, settings):
    window = start_window(parse_arguments([]), settings)
    try:
        wait_for_model(qtbot, window, DEFAULT_SAMPLE)
        names = [t.name for t in window.session.model.summary().inputs]
        assert window.panels["model"].tensors.item(0, 1).text() == names[0]
        assert "bundled sample" in window.statusBar().currentMessage()  # not to be taken for the user's model
        build = window.panels["build"]
        blocker = window.session.backend.engine_support().blocker
        assert build.runs_here.isVisibleTo(build) == bool(blocker)
        if blocker:  # no GPU here: the Build panel says up front that engines cannot run on this machine
            assert "cannot run on this machine" in build.runs_here.text()
    finally:
        settle(qtbot)
        window.close()
        window.deleteLater()


def test_open_dialog(qtbot, window, samples):
    dialog = window.open_dialog()
    dialog.selectFile(str(samples / "groupnorm.onnx"))
    dialog.accept()
    wait_for_model(qtbot, window, samples / "groupnorm.onnx")


def test_drag_and_drop(qtbot, window, samples):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(samples / "uint8_resize.onnx"))])
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(window.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    wait_for_model(qtbot, window, samples / "uint8_resize.onnx")


def test_recent_files_persist_and_reopen(qtbot, make_window, samples, settings):
    first = make_window()
    open_and_wait(qtbot, first, samples / "groupnorm.onnx")
    open_and_wait(qtbot, first, samples / "clean_cnn.onnx")
    first.close()
    second = make_window(settings)
    actions = second.recent_menu.actions()
    assert [a.text() for a in actions] == [str(samples / "clean_cnn.onnx"), str(samples / "groupnorm.onnx")]
    actions[1].trigger()
    wait_for_model(qtbot, second, samples / "groupnorm.onnx")


def test_the_status_bar_cancel_is_offered_only_while_a_model_opens(qtbot, window, samples, tmp_path):
    """It cancels the loader; a panel's job (build, comparison…) announces itself there but has its own Cancel."""
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    build = window.panels["build"]
    build.output.setText(str(tmp_path / "clean_cnn.engine"))
    build.start_build()
    assert build.jobs.running
    assert window.busy_bar.isVisibleTo(window) and not window.cancel_button.isVisibleTo(window)
    build.jobs.cancel()
    qtbot.waitUntil(lambda: not build.jobs.running, timeout=LOAD_TIMEOUT_MS)
    window.open_path(samples / "if_scalar.onnx")
    assert window.cancel_button.isVisibleTo(window)
    wait_for_model(qtbot, window, samples / "if_scalar.onnx")


def test_a_newer_open_wins_over_one_in_flight(qtbot, window, samples):
    seen = []
    window.session.model_changed.connect(lambda model: seen.append(model.path.name))
    window.open_path(samples / "if_scalar.onnx")
    window.open_path(samples / "clean_cnn.onnx")
    wait_for_model(qtbot, window, samples / "clean_cnn.onnx")
    qtbot.wait(200)  # a stale result would arrive now, if it were not dropped
    assert seen == ["clean_cnn.onnx"]


def test_corrupt_file_shows_the_error_and_keeps_the_model(qtbot, window, samples, tmp_path):
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    previous = window.session.model
    corrupt = tmp_path / "cut.onnx"
    data = (samples / "if_scalar.onnx").read_bytes()
    corrupt.write_bytes(data[: len(data) // 2])
    window.open_path(corrupt)
    qtbot.waitUntil(lambda: window.last_error is not None and not window.loader.busy, timeout=LOAD_TIMEOUT_MS)
    box = window.last_error_box
    assert box.isVisible()
    assert "cut.onnx is truncated or corrupt" in box.text()
    assert "export it again" in box.informativeText()
    assert window.session.model is previous
    assert corrupt.read_bytes() == data[: len(data) // 2]
    box.close()


@pytest.mark.qt_no_exception_capture
def test_exception_in_a_slot_shows_a_dialog_and_the_app_keeps_running(qtbot, window, samples):
    hook = ExceptionHook(window.show_error, window)
    hook.install()
    try:
        def broken_slot(_model):
            raise RuntimeError("panel bug")

        window.session.model_changed.connect(broken_slot)
        open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
        qtbot.waitUntil(lambda: window.last_error is not None, timeout=5000)
        assert window.last_error_box.text() == "Unexpected error: RuntimeError: panel bug"
        assert "broken_slot" in window.last_error_box.detailedText()
        window.session.model_changed.disconnect(broken_slot)

        worker_thread = threading.Thread(target=lambda: 1 / 0)
        worker_thread.start()
        worker_thread.join()
        qtbot.waitUntil(lambda: "ZeroDivisionError" in window.last_error.message, timeout=5000)
        open_and_wait(qtbot, window, samples / "groupnorm.onnx")
    finally:
        hook.uninstall()


def test_changed_model_is_reanalysed(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    changed = LoadedModel.from_proto(load_model(samples / "if_scalar.onnx").full_proto())
    window.session.set_model(changed)
    assert window.session.report is None
    qtbot.waitUntil(lambda: window.session.report is not None and not window.loader.busy, timeout=LOAD_TIMEOUT_MS)
    assert any(p.kind == "parser-error" and p.node == "down/resize" for p in window.session.problems)
    assert window.session.original.path.name == "clean_cnn.onnx"


def test_save_model_as_never_overwrites_the_original_silently(qtbot, window, samples, tmp_path):
    original = tmp_path / "model.onnx"
    original.write_bytes((samples / "clean_cnn.onnx").read_bytes())
    open_and_wait(qtbot, window, original)
    copy = tmp_path / "copy.onnx"
    worker = window.save_model_to(copy)
    qtbot.waitUntil(lambda: copy.exists() and not window.save_task.running, timeout=10_000)
    assert load_model(copy).full_proto().graph == window.session.model.full_proto().graph
    assert worker is not None

    proto = load_model(samples / "groupnorm.onnx").full_proto()
    window.session.set_model(LoadedModel.from_proto(proto, original))
    before = original.read_bytes()
    QTimer.singleShot(300, lambda: QApplication.activeModalWidget().reject())  # the user says Cancel
    assert window.save_model_to(original) is None
    assert original.read_bytes() == before


def test_save_recipe(qtbot, window, samples, tmp_path):
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    window.session.recipe.fixes.append({"name": "set-input-shape", "params": {"images": [1, 3, 64, 64]}})
    window.save_recipe_to(tmp_path / "recipe.toml")
    assert load_recipe(tmp_path / "recipe.toml").fixes == window.session.recipe.fixes
    window.save_recipe_to(tmp_path / "missing-folder" / "recipe.toml")
    assert window.last_error_box.text().startswith("Could not write the recipe")


def test_status_bar_and_about_name_the_backend(window, backend):
    texts = [w.text() for w in window.statusBar().findChildren(QLabel)]
    assert any(backend.version in t and "engines" in t for t in texts)
    about = window.show_about()
    assert backend.version in about.informativeText() and onnx.__version__ in about.informativeText()
    about.close()


def test_a_broken_panel_does_not_stop_the_window(make_window, monkeypatch):
    monkeypatch.setattr(panels, "PANELS", panels.PANELS + [("broken", "Broken", "no_such_module:Panel", "right")])
    import workbench.ui.main_window as main_window

    monkeypatch.setattr(main_window, "PANELS", panels.PANELS)
    window = make_window()
    assert "failed to load" in window.panels["broken"].text()
    assert {"triage", "model", "graph", "log"} <= set(window.docks)
    assert window.docks["broken"].toggleViewAction() in window.view_menu.actions()


def test_panel_requested_raises_the_dock(qtbot, window):
    window.docks["model"].hide()
    window.session.panel_requested.emit("model")
    assert window.docks["model"].isVisible()
    window.session.panel_requested.emit("no-such-panel")
    qtbot.waitUntil(lambda: any("no 'no-such-panel' panel" in m.text for m in window.panels["log"].visible_messages()),
                    timeout=2000)
