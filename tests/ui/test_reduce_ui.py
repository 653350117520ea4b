""""Reduce…" on a problem of the triage list, in the real main window: the reduction runs in a worker, the dialog
shows the failure's signature and the nodes left, the reduced model opens as a model of its own, and the report
folder is written."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.conftest import ROOT
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait, wait_for_model
from workbench.core.problems import ProblemKind

CORPUS = ROOT / "tests" / "corpus"


def test_reduce_from_the_triage_shows_the_result_and_opens_the_reduced_model(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, CORPUS / "detector_nms_ts.onnx")
    triage = window.panels["triage"]
    item = next(item for item, problem in triage.problem_items() if problem.kind == ProblemKind.PARSER_ERROR)
    triage.tree.setCurrentItem(item)
    buttons = [b for b in triage.action_buttons() if b.text() == "Reduce…"]
    assert len(buttons) == 1
    qtbot.mouseClick(buttons[0], Qt.MouseButton.LeftButton)
    dialog = window.repair.reduce_dialog
    assert dialog.cancel_button.isEnabled() and not dialog.open_button.isEnabled()  # running
    qtbot.waitUntil(lambda: dialog.reduce_result is not None and not dialog.task.running, timeout=LOAD_TIMEOUT_MS)
    shown = dialog.view.toPlainText()
    assert "reduced:" in shown and "parse/UNSUPPORTED_NODE on NonZero" in shown
    assert "NonZero /NonZero" in shown and len(dialog.reduce_result.reduced_nodes) <= 10
    assert "Report in" in dialog.status.text() and (dialog.bundle / "repro.sh").is_file()
    assert dialog.open_button.isEnabled() and dialog.write_button.isEnabled()

    dialog.write_to(tmp_path / "report")
    assert (tmp_path / "report" / "README.md").is_file() and "Wrote" in dialog.status.text()

    qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    wait_for_model(qtbot, window, dialog.bundle / "reduced.onnx")
    assert [n.op_type for n in window.session.model.proto.graph.node] == dialog.reduce_result.reduced_ops


def test_cancel_stops_the_reduction(qtbot, window):
    open_and_wait(qtbot, window, CORPUS / "mid_nonzero_ts.onnx")
    problem = next(p for p in window.session.problems if p.kind == ProblemKind.PARSER_ERROR)
    dialog = window.repair.open_reduce_dialog(problem)
    dialog.cancel()
    qtbot.waitUntil(lambda: not dialog.task.running, timeout=LOAD_TIMEOUT_MS)
    assert dialog.reduce_result is None and "cancelled" in dialog.status.text()
    assert not dialog.open_button.isEnabled()
