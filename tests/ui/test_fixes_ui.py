"""Fixes panel, fix dialog and History panel with real widgets, a real Session and real fixes."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel

from tests.conftest import ROOT
from tests.corpus.catalog import CATALOG
from workbench.core.analysis.support import analyze_support
from workbench.core.fixes.registry import FIXES
from workbench.core.model.loading import load_model
from workbench.core.compare.parity import EXACT, WITHIN
from workbench.ui.fix_dialog import FixDialog
from workbench.ui.fixes_panel import FixesPanel
from workbench.ui.history_panel import HistoryPanel
from workbench.ui.session import Session

WAIT_MS = 30_000


@pytest.fixture
def window(qtbot, backend, samples):
    def open_sample(name):
        session = Session(backend)
        fixes, history = FixesPanel(session), HistoryPanel(session)
        for widget in (fixes, history):
            qtbot.addWidget(widget)
            widget.show()
        model = load_model(samples / name if isinstance(name, str) else name)
        session.set_model(model, analyze_support(model, backend), opened=True)
        return session, fixes, history
    return open_sample


def preview(qtbot, dialog):
    """Start a preview and wait until its worker is done (it may finish before a signal wait could start)."""
    assert dialog.preview() is not None
    qtbot.waitUntil(lambda: dialog.preview_button.isEnabled(), timeout=WAIT_MS)


def test_triage_request_opens_a_prefilled_dialog_and_apply_undo_redo_round_trips(qtbot, window):
    session, fixes, history = window("if_scalar.onnx")
    original = session.model
    original_bytes = original.serialized
    problem = next(p for p in session.problems if p.kind == "parser-error")
    freeze = fixes.list.item(list(FIXES).index("freeze-input")).text()
    assert "freeze-input" in freeze and "applies to" in freeze

    session.fix_requested.emit(problem, "freeze-input")
    dialog = fixes.dialog
    assert dialog.isVisible() and dialog.fields["input"].currentText() == "downsample_ratio"
    dialog.fields["value"].setText("0.5")
    preview(qtbot, dialog)
    assert "choose_resolution" in dialog.preview_text.toPlainText()
    assert session.model is original  # preview changes nothing
    with qtbot.waitSignal(dialog.parity_checked, timeout=WAIT_MS):
        dialog.apply_button.click()
    assert "If" not in {n.op_type for n in session.model.proto.graph.node}
    assert session.recipe.fixes == [{"name": "freeze-input",
                                     "params": {"input": "downsample_ratio", "value": 0.5, "fold": True}}]
    assert dialog.parity.verdict in (EXACT, WITHIN) and "Parity" in fixes.parity_label.text()
    assert len(session.history) == 1 and history.undo_button.isEnabled()
    assert history.list.count() == 2 and history.list.currentRow() == 1

    history.undo_button.click()
    assert session.model is original and session.model.serialized == original_bytes
    assert session.recipe.fixes == []
    history.redo_button.click()
    assert "If" not in {n.op_type for n in session.model.proto.graph.node}
    assert len(session.recipe.fixes) == 1


def test_bad_parameter_shows_the_message_and_changes_nothing(qtbot, window):
    session, fixes, history = window("clean_cnn.onnx")
    before = session.model
    fixes.list.setCurrentRow(1)  # set-input-shape
    dialog = fixes.open_selected()
    assert dialog.fields["input"].currentText() == "images" and dialog.fields["shape"].text() == "1x3x64x64"
    dialog.fields["shape"].setText("1x3xbad")
    assert dialog.preview() is None
    assert "is not a shape" in dialog.error_label.text()
    dialog.fields["shape"].setText("1x3x64")
    preview(qtbot, dialog)
    assert "has rank 3" in dialog.error_label.text() and not dialog.apply_button.isEnabled()
    assert session.model is before and len(session.history) == 0


def test_opening_another_model_clears_the_history(qtbot, window, samples):
    session, fixes, history = window("clean_cnn.onnx")
    fixes.list.setCurrentRow(1)
    dialog = fixes.open_selected()
    preview(qtbot, dialog)
    with qtbot.waitSignal(dialog.parity_checked, timeout=WAIT_MS):
        dialog.apply_button.click()
    assert dialog.parity.verdict == EXACT and len(session.history) == 1
    session.set_model(load_model(samples / "groupnorm.onnx"), opened=True)
    assert len(session.history) == 0 and history.list.count() == 1 and not history.undo_button.isEnabled()


def test_dialog_says_which_fixes_can_change_the_outputs(qtbot, window):
    session, _fixes, _history = window("uint8_resize.onnx")

    def text_of(fix_name):
        dialog = FixDialog(session, fix_name)
        qtbot.addWidget(dialog)
        return " ".join(label.text() for label in dialog.findChildren(QLabel))

    assert "change the model's outputs numerically" in text_of("fix-resize-mode")
    assert "change the model's outputs numerically" not in text_of("remove-unused")


def test_an_invalid_fix_result_is_shown_as_an_error_and_the_model_is_kept(qtbot, window):
    """The segmenter's skip connections need sides in multiples of 32; at 250 the result fails the checker."""
    session, fixes, history = window(ROOT / "tests" / "corpus" / "segmenter_dynamo.onnx")
    before = session.model
    bad_shape, _values, op = CATALOG["segmenter_dynamo.onnx"]["facts"]["fails_at"][0]
    dialog = FixDialog(session, "set-input-shape")
    qtbot.addWidget(dialog)
    dialog.fields["input"].setCurrentText("image")
    dialog.fields["shape"].setText("x".join(map(str, bad_shape["image"])))
    preview(qtbot, dialog)
    error = dialog.error_label.text()
    assert "produced an invalid model" in error and f"({op})" in error and "Nothing was changed or written" in error
    assert "ShapeInferenceError" in dialog.preview_text.toPlainText()  # the checker's own text
    assert not dialog.apply_button.isEnabled()
    assert session.model is before and len(session.history) == 0 and history.list.count() == 1

    dialog.fields["shape"].setText("1x3x256x320")
    preview(qtbot, dialog)
    assert dialog.error_label.text() == "" and dialog.apply_button.isEnabled()
    assert "Result: valid (onnx checker (full), onnxruntime session)" in dialog.preview_text.toPlainText()
