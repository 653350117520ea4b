"""Which Netron element gets which mark, from the real parser's report (no page needed)."""

from __future__ import annotations

from workbench.core.analysis.support import analyze_support
from workbench.core.model.loading import load_model
from workbench.ui.graph_marks import element_marks, page_marks


def test_nested_problems_mark_their_parent_and_unsupported_nodes_are_flagged(backend, samples):
    model = load_model(samples / "if_scalar.onnx")
    report = analyze_support(model, backend)
    marks = element_marks(report.problems, report)

    parent = marks["node-name-choose_resolution"]
    assert parent.severity == "error" and parent.inside  # the Resize inside its branch, and its own warning
    assert any("down/resize" in line for line in parent.lines)
    assert marks["node-name-down/resize"].severity == "error"  # drawn when the body is expanded
    unsupported = {element_id for element_id, mark in marks.items() if mark.unsupported}
    assert {f"node-name-{n.name}" for n in report.unsupported_nodes} <= unsupported

    sent = page_marks(marks)
    assert set(sent["elements"]) == set(marks)
    classes, tooltip = sent["looks"][sent["elements"]["node-name-choose_resolution"]]
    assert classes.split() == ["wb-mark", "wb-error", *(["wb-unsupported"] if parent.unsupported else []), "wb-inside"]
    assert "parser-error" in tooltip
    assert len(sent["looks"]) <= len(marks)  # equal looks are sent once


def test_a_clean_model_has_no_marks(backend, samples):
    model = load_model(samples / "groupnorm.onnx")
    report = analyze_support(model, backend)
    assert element_marks([p for p in report.problems if p.severity == "error"], report) == {}
