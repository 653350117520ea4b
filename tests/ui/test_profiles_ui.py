"""The Profiles panel on real exports: probed suggestions with reasons, and the check against the model."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.conftest import CORPUS
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait, settle, settle_window
from workbench.core.fixes.apply import apply_fix, parse_spec
from workbench.core.problems import ProblemKind
from workbench.ui.profile_editor import CHECK_FAILED, CHECK_PASSED, ProfileEditor


def _cells(editor: ProfileEditor) -> dict[str, str]:
    table = editor.tabs.currentWidget()
    return {which: table.item(0, column).text() for column, which in enumerate(("min", "opt", "max"))}


def test_probed_shapes_replace_the_first_guess_with_their_reasons(qtbot, window):
    open_and_wait(qtbot, window, CORPUS / "text_recognizer_p2o.onnx")
    editor = window.findChild(ProfileEditor)
    qtbot.waitUntil(lambda: "probe" in editor.reasons.text(), timeout=LOAD_TIMEOUT_MS)
    cells = _cells(editor)
    assert cells["opt"].split("x")[2] == "48" and cells["min"].split("x")[2] == "48"
    assert int(cells["opt"].split("x")[3]) >= 32
    assert "LSTM 'p2o.LSTM.0'" in editor.reasons.text()
    settle(qtbot)


def test_check_marks_rows_the_model_cannot_take(qtbot, window):
    open_and_wait(qtbot, window, CORPUS / "transformer_ts_seq64.onnx")
    editor = window.findChild(ProfileEditor)
    qtbot.waitUntil(lambda: "probe" in editor.reasons.text(), timeout=LOAD_TIMEOUT_MS)
    settle(qtbot)
    editor.check()
    qtbot.waitUntil(lambda: not editor.check_task.running, timeout=LOAD_TIMEOUT_MS)
    table = editor.tabs.currentWidget()
    assert table.verticalHeaderItem(0).text().startswith(CHECK_PASSED)  # the suggestion: seq 64 only
    table.item(0, 2).setText("1x128x256")  # a max the traced Reshape cannot take
    editor.check()
    qtbot.waitUntil(lambda: not editor.check_task.running, timeout=LOAD_TIMEOUT_MS)
    header = table.verticalHeaderItem(0)
    assert header.text().startswith(CHECK_FAILED)
    assert "/layers.0/self_attn/Reshape_4" in header.toolTip() and "max" in header.toolTip()
    assert CHECK_FAILED in editor.check_result.text()
    settle(qtbot)


def test_the_profile_stage_is_proven_by_the_check_and_cleared_by_an_edit(qtbot, window):
    """✓ Profile only once onnxruntime ran these very profiles; an edit takes the verdict back; a failing check
    is ✗ (what the status strip promises, row by row)."""
    strip = window.status_strip
    open_and_wait(qtbot, window, CORPUS / "transformer_ts_seq64.onnx")
    editor = window.findChild(ProfileEditor)
    qtbot.waitUntil(lambda: "probe" in editor.reasons.text(), timeout=LOAD_TIMEOUT_MS)
    settle(qtbot)
    assert strip.state("profile") == "none"  # valid, but nothing ran it yet
    editor.check()
    qtbot.waitUntil(lambda: not editor.check_task.running, timeout=LOAD_TIMEOUT_MS)
    assert strip.state("profile") == "ok"
    table = editor.tabs.currentWidget()
    table.item(0, 2).setText("1x128x256")
    assert strip.state("profile") == "none" and "Edited since the check" in editor.check_result.text()
    editor.check()
    qtbot.waitUntil(lambda: not editor.check_task.running, timeout=LOAD_TIMEOUT_MS)
    assert strip.state("profile") == "failed"
    settle(qtbot)


def test_a_cell_that_is_not_a_shape_is_told_in_the_words_typed_there(qtbot, window):
    open_and_wait(qtbot, window, CORPUS / "transformer_ts_seq64.onnx")
    editor = window.findChild(ProfileEditor)
    qtbot.waitUntil(lambda: "probe" in editor.reasons.text(), timeout=LOAD_TIMEOUT_MS)
    table = editor.tabs.currentWidget()
    table.item(0, 0).setText("banana")
    tooltip = table.item(0, 0).toolTip()
    assert "'banana' is not a list of dimensions" in tooltip and "e.g. 1x1x256" in tooltip
    assert "tokens:banana" not in tooltip and "tokens:" not in editor.status.text()
    assert table.item(0, 1).toolTip() == ""  # only the faulty cell says so
    settle(qtbot)


def test_a_float_shape_tensor_input_is_explained_as_a_value_and_listed_in_the_triage(qtbot, window):
    """A real export whose float ``scale`` input sizes a resize: TensorRT takes it as a shape tensor, which a profile
    cannot give a float range; the editor says so in words (no "e.g. 1x64"), and the Triage lists it with its fix."""
    open_and_wait(qtbot, window, CORPUS / "zoom_scale_ts.onnx")
    settle_window(qtbot, window)
    editor = window.findChild(ProfileEditor)
    table = editor.tabs.currentWidget()
    row = next(index for index, (name, values) in enumerate(table.rows) if name == "scale" and values)
    cells = [table.item(row, column) for column in range(3)]
    assert all(cell.text() == "" and not cell.flags() & Qt.ItemFlag.ItemIsEditable for cell in cells)
    said = [table.verticalHeaderItem(row).toolTip(), *(cell.toolTip() for cell in cells)]
    assert all("a float value such as 0.25" in text and "freeze-input" in text for text in said)
    assert "scale" in editor.status.text() and "such as 0.25" in editor.status.text()
    assert not any("1x64" in text or "e.g. 1)" in text for text in [*said, editor.status.text()])

    triage = window.panels["triage"]
    listed = [item.text(2) for item in triage.tree.findItems("", Qt.MatchFlag.MatchContains
                                                                 | Qt.MatchFlag.MatchRecursive)]
    assert any("a float value such as 0.25" in text and "shape tensor" in text for text in listed)
    problem = next(p for p in window.session.problems if p.kind == ProblemKind.FLOAT_SHAPE_INPUT)
    assert problem.inputs == ["scale"] and "freeze-input" in problem.fixes


def test_undo_shows_the_profile_check_of_that_model_without_checking_again(qtbot, window, monkeypatch):
    strip = window.status_strip
    open_and_wait(qtbot, window, CORPUS / "transformer_ts_seq64.onnx")
    editor = window.findChild(ProfileEditor)
    qtbot.waitUntil(lambda: "probe" in editor.reasons.text(), timeout=LOAD_TIMEOUT_MS)
    settle_window(qtbot, window)
    editor.check()
    qtbot.waitUntil(lambda: not editor.check_task.running, timeout=LOAD_TIMEOUT_MS)
    checked, verdict = editor.last_checks, editor.check_result.text()
    assert checked and strip.state("profile") == "ok"

    session = window.session
    session.apply_fix(apply_fix(session.model, parse_spec("remove-unused")))
    settle_window(qtbot, window)
    assert not editor.last_checks
    starts = []
    monkeypatch.setattr(editor.check_task, "start", lambda *args, **kwargs: starts.append(args))
    session.undo()
    assert editor.last_checks is checked and editor.check_result.text() == verdict
    assert strip.state("profile") == "ok" and starts == []
