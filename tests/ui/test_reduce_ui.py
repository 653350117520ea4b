""""Reduce…" on a problem of the triage list, in the real main window: the reduction runs in a worker, the dialog
shows the failure's signature and the nodes left, the reduced model opens as a model of its own, and the report
folder is written."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.conftest import CORPUS
from tests.corpus.perturb import perturbed_copy
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait, wait_for_model
from workbench.core.compare.metrics import Tolerances
from workbench.core.model.loading import load_model
from workbench.core.problems import ProblemKind
from workbench.ui.reduce_dialog import ComparisonToReduce


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

    assert dialog.write_to(tmp_path / "report") is not None  # written off the GUI thread
    qtbot.waitUntil(lambda: not dialog.write_task.running, timeout=LOAD_TIMEOUT_MS)
    assert (tmp_path / "report" / "README.md").is_file() and "Wrote" in dialog.status.text()
    assert dialog.write_to(tmp_path / "no such folder" / "report") is None  # said at once, nothing started
    assert "Could not write the report: The folder" in dialog.status.text() and dialog.write_button.isEnabled()

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


def test_a_failed_comparison_reduces_to_the_node_where_the_models_depart(qtbot, window, tmp_path):
    source = CORPUS / "transformer_ts_seq64.onnx"
    culprit = perturbed_copy(source, tmp_path / "perturbed.onnx")  # one node's weight changed
    open_and_wait(qtbot, window, source)
    request = ComparisonToReduce(load_model(source), load_model(tmp_path / "perturbed.onnx"), Tolerances())
    window.session.reduce_requested.emit(request)  # what the Compare panel's "Reduce…" sends
    dialog = window.repair.reduce_dialog
    assert "comparison" in dialog.windowTitle()
    qtbot.waitUntil(lambda: dialog.reduce_result is not None and not dialog.task.running, timeout=LOAD_TIMEOUT_MS)
    assert culprit in dialog.reduce_result.reduced_nodes and len(dialog.reduce_result.reduced_nodes) <= 10
    assert "compare/mismatch" in dialog.view.toPlainText()
    assert (dialog.bundle / "inputs.npz").is_file() and (dialog.bundle / "repro.sh").is_file()
