"""The Profiles and Build panels with real Qt widgets, a real Session and real builds."""

from __future__ import annotations


from tests.build_models import deep_cnn, reshape_by_shape_input
from workbench.core.analysis.support import analyze_support
from workbench.core.build.child import ABORT_SWITCH
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.shapes.profiles import ShapeRange
from workbench.ui.build_panel import BuildPanel
from workbench.ui.profile_editor import INVALID, VALUES_SUFFIX, ProfileEditor
from workbench.ui.session import Session

BUILD_TIMEOUT_MS = 60_000


def make_panels(qtbot, backend, model):
    session = Session(backend)
    editor, panel = ProfileEditor(session), BuildPanel(session)
    for widget in (editor, panel):
        qtbot.addWidget(widget)
        widget.show()
    session.set_model(model, opened=True)
    return session, editor, panel


def test_editor_suggests_a_profile_and_highlights_invalid_cells(qtbot, backend, samples):
    session, editor, _panel = make_panels(qtbot, backend, load_model(samples / "clean_cnn.onnx"))
    assert session.recipe.profiles == [{"shapes": {"images": {"min": [1, 3, 64, 64], "opt": [1, 3, 64, 64],
                                                               "max": [1, 3, 64, 64]}}}]
    table = editor.tabs.currentWidget()
    table.item(0, 2).setText("8x3x64x64")
    assert session.recipe.profiles[0]["shapes"]["images"]["max"] == [8, 3, 64, 64]
    table.item(0, 1).setText("16x3x64x64")  # opt > max
    cell = table.item(0, 2)
    assert cell.background().color() == INVALID and "opt 16 > max 8" in cell.toolTip()
    assert "problem" in editor.status.text()
    assert session.recipe.profiles[0]["shapes"]["images"]["opt"] == [1, 3, 64, 64]  # invalid edits are not kept
    editor.duplicate_button.click()
    editor.remove_button.click()
    assert editor.tabs.count() == 1


def test_unavailable_options_are_disabled_with_the_reason(qtbot, backend, samples):
    _session, _editor, panel = make_panels(qtbot, backend, load_model(samples / "groupnorm.onnx"))
    unavailable = backend.unavailable_build_options()
    for index in range(panel.precision.count()):
        item = panel.precision.model().item(index)
        reason = unavailable.get(f"precision:{panel.precision.itemData(index)}")
        assert item.isEnabled() == (reason is None)
        assert item.toolTip() == (reason or "")
    if "timing_cache" in unavailable:
        assert not panel.timing_cache.isEnabled() and panel.timing_cache.toolTip() == unavailable["timing_cache"]


def test_build_button_builds_and_announces_the_engine(qtbot, backend, samples, tmp_path):
    session, editor, panel = make_panels(qtbot, backend, load_model(samples / "clean_cnn.onnx"))
    editor.tabs.currentWidget().item(0, 2).setText("4x3x64x64")
    panel.output.setText(str(tmp_path / "cnn.engine"))
    phases = []
    panel.progress.valueChanged.connect(lambda _v: phases.append(panel.progress.format()))
    with qtbot.waitSignal(session.engine_built, timeout=BUILD_TIMEOUT_MS) as built:
        panel.build_button.click()
    result = built.args[0]
    assert result.engine_path == str(tmp_path / "cnn.engine") and (tmp_path / "cnn.engine").is_file()
    assert "images" in panel.summary.toPlainText() and "max [4, 3, 64, 64]" in panel.summary.toPlainText()
    assert panel.history_table.rowCount() == 1
    assert any("Building engine" in p for p in phases)
    assert "--maxShapes=images:4x3x64x64" in panel.commands.toPlainText()


def test_missing_profile_becomes_a_build_problem_that_raises_the_profile_editor(qtbot, backend, samples, tmp_path):
    session, editor, panel = make_panels(qtbot, backend, load_model(samples / "clean_cnn.onnx"))
    editor.remove_button.click()
    assert session.recipe.profiles == []
    panel.output.setText(str(tmp_path / "x.engine"))
    with qtbot.waitSignal(session.panel_requested, timeout=BUILD_TIMEOUT_MS) as raised:
        panel.build_button.click()
    assert raised.args == ["profiles"]
    [problem] = [p for p in session.problems if p.stage == "build"]
    assert (problem.kind, problem.inputs) == ("no-profile", ["images"])
    assert "failed" in panel.status.text()


def test_cancel_leaves_no_engine_file(qtbot, backend, tmp_path):
    model = LoadedModel.from_proto(deep_cnn(300))
    session, _editor, panel = make_panels(qtbot, backend, model)
    panel.output.setText(str(tmp_path / "deep.engine"))
    panel.build_button.click()
    # The builder reports fractions once it builds (its first phase, "Building engine", is too short to poll for).
    qtbot.waitUntil(lambda: "%p%" in panel.progress.format(), timeout=BUILD_TIMEOUT_MS)
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: not panel.build_task.running, timeout=BUILD_TIMEOUT_MS)
    assert "cancelled" in panel.status.text()
    assert list(tmp_path.iterdir()) == []
    assert panel.build_button.isEnabled()


def test_crashed_builder_shows_an_error_and_the_panel_stays_up(qtbot, backend, samples, tmp_path, monkeypatch):
    monkeypatch.setenv(ABORT_SWITCH, "1")
    session, _editor, panel = make_panels(qtbot, backend, load_model(samples / "clean_cnn.onnx"))
    panel.output.setText(str(tmp_path / "c.engine"))
    panel.build_button.click()
    qtbot.waitUntil(lambda: not panel.build_task.running, timeout=BUILD_TIMEOUT_MS)
    assert "The TensorRT builder crashed" in panel.status.text()
    assert panel.isVisible() and panel.build_button.isEnabled()
    assert list(tmp_path.iterdir()) == []


def test_shape_tensor_values_get_rows_once_the_analysis_finds_them(qtbot, backend, tmp_path):
    model = LoadedModel.from_proto(reshape_by_shape_input())
    session, editor, panel = make_panels(qtbot, backend, model)  # as after a fix: no report yet
    assert editor.tabs.currentWidget().rowCount() == 1
    session.set_report(analyze_support(model, backend))  # what the window's analysis child delivers
    table = editor.tabs.currentWidget()
    headers = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert headers == ["x", "target_shape" + VALUES_SUFFIX]
    assert table.item(0, 0).text() == "1x64"  # the dims typed before the report arrived are kept
    required = table.item(1, 1)
    assert required.background().color() == INVALID and "opt is empty (a shape tensor" in required.toolTip()
    assert "values" not in session.recipe.profiles[0]
    table.item(0, 2).setText("8x64")
    for column, text in enumerate(("1x64", "4x64", "8x64")):
        table.item(1, column).setText(text)
    assert session.recipe.profiles[0]["values"] == {"target_shape": {"min": [1, 64], "opt": [4, 64], "max": [8, 64]}}
    table.item(1, 1).setText("4x64x2")
    assert table.item(1, 1).background().color() == INVALID and "has 3 values" in table.item(1, 1).toolTip()
    assert table.item(0, 1).background().color() != INVALID
    for column in range(3):
        table.item(1, column).setText("-1x64")  # Reshape's "infer this dimension"
    panel.output.setText(str(tmp_path / "reshape.engine"))
    with qtbot.waitSignal(session.engine_built, timeout=BUILD_TIMEOUT_MS) as built:
        panel.build_button.click()
    assert [t.profile_shapes for t in built.args[0].inputs if t.shape_tensor] == [
        [ShapeRange.fixed((-1, 64)).to_dict()]]
    assert "target_shape:-1x64" in panel.commands.toPlainText()
    assert "profile 1 values" in panel.summary.toPlainText()

