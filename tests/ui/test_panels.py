"""Triage and log panels over real analyses of the bundled samples."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtGui import QGuiApplication

from tests.ui.conftest import open_and_wait
from workbench.core.problems import Problem

# What each bundled sample is made to show (resources/make_samples.py): (kind, node) of its analysis problems.
SAMPLE_PROBLEMS = {
    "clean_cnn": {("dynamic-input", "images")},  # needs a profile, nothing else
    "uint8_resize": set(),
    "groupnorm": {("groupnorm-pattern", "gn/instance_norm")},
    "nms_detector": {("nms", "nms")},
    "if_scalar": {("parser-error", "down/resize"), ("control-input", "choose_resolution")},
}


@pytest.mark.parametrize("sample", SAMPLE_PROBLEMS)
def test_triage_lists_the_problems_of_each_sample(qtbot, window, samples, sample):
    open_and_wait(qtbot, window, samples / f"{sample}.onnx")
    triage = window.panels["triage"]
    problems = window.session.problems
    shown = [(p.kind, p.node, item.text(2)) for item, p in triage.problem_items()]
    assert sorted(shown) == sorted((p.kind, p.node, p.message) for p in problems)
    assert SAMPLE_PROBLEMS[sample] <= {(kind, node) for kind, node, _ in shown}
    groups = [triage.tree.topLevelItem(i).text(0) for i in range(triage.tree.topLevelItemCount())]
    errors = sum(p.severity == "error" for p in problems)
    assert (f"Errors ({errors})" in groups) == bool(errors)
    assert bool(errors) == (sample in ("nms_detector", "if_scalar"))  # TensorRT parses the others in full
    if not SAMPLE_PROBLEMS[sample]:
        assert not problems and triage.summary.text().startswith("No problems found")


def test_if_scalar_problem_detail_and_graph_request(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    triage = window.panels["triage"]
    qtbot.waitUntil(lambda: bool(triage._shapes), timeout=10_000)
    item, problem = next((i, p) for i, p in triage.problem_items() if p.kind == "parser-error")
    assert (problem.node, problem.parent, problem.op) == ("down/resize", "choose_resolution", "Resize")
    with qtbot.waitSignal(window.session.node_selected, timeout=2000) as selected:
        triage.tree.setCurrentItem(item)
    assert selected.args == ["down/resize"]
    text = triage.detail.toPlainText()
    assert problem.detail.splitlines()[0] in text
    assert "Attributes" in text and "mode = " in text
    assert "Inputs" in text and "Outputs" in text


def test_filter_box_narrows_the_list(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    triage = window.panels["triage"]
    total = len(triage.problem_items())
    triage.filter.setText("resize")
    remaining = triage.problem_items()
    assert 0 < len(remaining) < total
    assert all("resize" in (p.node + p.message + p.op).lower() for _, p in remaining)
    triage.filter.setText("")
    assert len(triage.problem_items()) == total


def test_fix_and_profile_buttons(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    triage = window.panels["triage"]
    build_problem = Problem(kind="no-profile", severity="error", stage="build", node="images", inputs=["images"],
                            message="Network has dynamic or shape inputs, but no optimization profile has been "
                                    "defined.",
                            fixes=["set-input-shape"])
    window.session.set_problems("trial-build", [build_problem])
    item = next(i for i, p in triage.problem_items() if p is build_problem)
    triage.tree.setCurrentItem(item)
    buttons = {b.text(): b for b in triage.action_buttons()}
    assert set(buttons) == {"Fix: set-input-shape", "Edit profiles"}
    with qtbot.waitSignal(window.session.fix_requested, timeout=2000) as requested:
        buttons["Fix: set-input-shape"].click()
    assert requested.args == [build_problem, "set-input-shape"]
    with qtbot.waitSignal(window.session.panel_requested, timeout=2000) as panel:
        buttons["Edit profiles"].click()
    assert panel.args == ["profiles"]


def test_log_panel_filters_searches_and_copies(qtbot, window, samples):
    log = window.panels["log"]
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    assert any(m.source == "tensorrt" and m.severity == "error" for m in log.visible_messages())
    thread = threading.Thread(target=lambda: window.session.log("warning", "from a worker thread", "test"))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: any(m.text == "from a worker thread" for m in log.visible_messages()), timeout=2000)
    log.level.setCurrentText("Errors")
    assert log.visible_messages() and all(m.severity in ("error", "internal_error") for m in log.visible_messages())
    log.level.setCurrentText("Everything")
    log.search.setText("worker thread")
    assert [m.text for m in log.visible_messages()] == ["from a worker thread"]
    assert log.copy() == "[warning] test: from a worker thread"


def test_graphsurgeon_messages_from_a_fix_reach_the_log_panel_not_the_terminal(qtbot, window, capfd):
    """A fold that onnxruntime cannot evaluate: graphsurgeon's warning is a Log panel row, never printed."""
    from tests.onnx_factory import unfoldable_constant_model
    from workbench.core.fixes.apply import apply_fix, make_step
    from workbench.core.model.loading import LoadedModel

    model = LoadedModel.from_proto(unfoldable_constant_model())
    log = window.panels["log"]
    log.level.setCurrentText("Everything")
    thread = threading.Thread(target=lambda: apply_fix(model, make_step("fold-constants", {})))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: any(m.source == "onnx-graphsurgeon" and "Inference failed" in m.text
                                for m in log.visible_messages()), timeout=5000)
    printed = capfd.readouterr()
    assert "[W]" not in printed.out and "[W]" not in printed.err
    assert QGuiApplication.clipboard().text() == "[warning] test: from a worker thread"
