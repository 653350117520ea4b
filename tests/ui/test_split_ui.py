"""Repair → Split for TensorRT… in the real main window: the split runs in a worker and the dialog lists
the parts, why nodes left TensorRT, the boundary tensors and the verdicts; the folder is written."""

from __future__ import annotations

import tomllib

from PySide6.QtCore import Qt

from tests.conftest import CORPUS
from tests.ui.conftest import LOAD_TIMEOUT_MS, open_and_wait


def test_split_dialog_shows_parts_reasons_boundaries_and_writes_the_folder(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, CORPUS / "mid_nonzero_ts.onnx")
    assert window.repair.split_action.isEnabled()
    dialog = window.repair.open_split_dialog()
    assert not dialog.write_button.isEnabled()  # nothing to write while it splits
    qtbot.waitUntil(lambda: dialog.split_result is not None and not dialog.split_task.running, timeout=LOAD_TIMEOUT_MS)
    shown = dialog.view.toPlainText()
    assert "Part 1: tensorrt" in shown and "Part 2: onnxruntime" in shown and "Part 3: tensorrt" in shown
    assert "/NonZero: The TensorRT parser rejected NonZero" in shown
    assert "Boundary tensors" in shown and "maps: PASS" in shown
    assert dialog.write_button.isEnabled()
    assert dialog.write_to(tmp_path / "split") is not None  # written off the GUI thread (the parts hold weights)
    qtbot.waitUntil(lambda: not dialog.write_task.running, timeout=LOAD_TIMEOUT_MS)
    split = tomllib.loads((tmp_path / "split" / "split.toml").read_text())["split"]
    assert [p["runtime"] for p in split["parts"]] == ["tensorrt", "onnxruntime", "tensorrt"]
    assert "Wrote" in dialog.status.text()
    assert dialog.write_to(tmp_path / "no such folder" / "split") is None  # said at once, nothing started
    assert "Could not write the split" in dialog.status.text() and dialog.write_button.isEnabled()


def test_repair_dialog_offers_the_split_when_no_repair_builds(qtbot, window):
    from workbench.core.repair import SPLIT_OFFERED, repair_model

    open_and_wait(qtbot, window, CORPUS / "detector_nms_ts.onnx")
    dialog = window.repair.open_dialog()
    qtbot.waitUntil(lambda: not dialog.search_task.running, timeout=LOAD_TIMEOUT_MS)
    assert not dialog.split_button.isVisibleTo(dialog)  # the search found the cut: nothing to offer
    # No time for any sequence: the search ends offering the split, and the button opens it.
    dialog._show_result(repair_model(window.session.model, backend=window.session.backend, budget_seconds=0))
    assert dialog.repair_result.status == SPLIT_OFFERED and dialog.split_button.isVisibleTo(dialog)
    qtbot.mouseClick(dialog.split_button, Qt.MouseButton.LeftButton)
    split = window.repair.split_dialog
    qtbot.waitUntil(lambda: split.split_result is not None and not split.split_task.running, timeout=LOAD_TIMEOUT_MS)
    assert "Part 1: tensorrt" in split.view.toPlainText()


def test_the_triage_offers_the_split_keeps_the_tensorrt_part_and_undo_restores_the_model(qtbot, window):
    from tests.ui.test_graph_triage import marked
    from workbench.core.problems import ProblemKind
    from workbench.ui.graph_marks import PART_CLASSES

    open_and_wait(qtbot, window, CORPUS / "detector_nms_ts.onnx")
    original = window.session.model
    triage = window.panels["triage"]
    item = next(item for item, problem in triage.problem_items() if problem.kind == ProblemKind.PARSER_ERROR)
    triage.tree.setCurrentItem(item)
    split_buttons = [b for b in triage.action_buttons() if b.text() == "Split for TensorRT"]
    assert len(split_buttons) == 1
    qtbot.mouseClick(split_buttons[0], Qt.MouseButton.LeftButton)
    dialog = window.repair.split_dialog
    qtbot.waitUntil(lambda: dialog.split_result is not None and not dialog.split_task.running, timeout=LOAD_TIMEOUT_MS)
    assert dialog.apply_button.isEnabled()

    graph = window.panels["graph"]
    if graph.page is not None:  # the parts are marked on the graph while the result is shown
        qtbot.waitUntil(lambda: graph.marks_current, timeout=LOAD_TIMEOUT_MS)
        classes = {c for marks in marked(qtbot, window).values() for c in marks}
        assert {PART_CLASSES["tensorrt"], PART_CLASSES["onnxruntime"]} <= classes
        assert "TensorRT part" in graph.legend.text()

    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.model is not original, timeout=LOAD_TIMEOUT_MS)
    kept = window.session.model
    assert [o.name for o in kept.proto.graph.output] == dialog.split_result.parts[0].outputs
    assert window.session.recipe.split["parts"] and window.session.recipe.fixes[0]["name"] == "cut-outputs"
    assert "Split for TensorRT" in window.session.history.steps[-1].label
    assert "TensorRT part" not in graph.legend.text()  # the parts were of the whole model
    window.session.undo()
    assert window.session.model is original and window.session.recipe.split == {}
    dialog.close()
