"""Which nodes really block: the capability check lists every subgraph of a failing model as unsupported
(a detector's whole backbone, because its NonZero post-processing fails); the analysis cuts each such
subgraph out and asks the parser again, so the triage and the graph say what TensorRT takes."""

from __future__ import annotations

from tests.conftest import CORPUS
from workbench.core.analysis.support import analyze_support
from workbench.core.model.loading import load_model
from workbench.core.problems import ProblemKind, Severity


def test_a_detectors_backbone_is_not_blamed_for_its_post_processing(backend):
    model = load_model(CORPUS / "detector_nms_ts.onnx")
    report = analyze_support(model, backend)
    assert not report.fully_supported
    checked = [p for p in report.problems if p.kind == ProblemKind.UNSUPPORTED_SUBGRAPH
               and p.severity == Severity.INFO]
    assert checked and "parses (checked)" in checked[0].message and "NonZero '/NonZero'" in checked[0].message
    status = {n.name: n.status for n in report.nodes if not n.parent}
    convolutions = [n.name for n in model.proto.graph.node if n.op_type == "Conv"]
    assert convolutions and all(status[name] == "supported" for name in convolutions)
    assert status["/NonZero"] == "unsupported"
    assert any(p.kind == ProblemKind.PARSER_ERROR and p.node == "/NonZero" for p in report.problems)


def test_a_model_the_parser_refuses_in_the_middle_keeps_its_refused_part(backend):
    model = load_model(CORPUS / "mid_nonzero_ts.onnx")
    report = analyze_support(model, backend)
    refused = {p.node for p in report.problems if p.kind == ProblemKind.PARSER_ERROR}
    assert refused and all(n.status == "unsupported" for n in report.nodes if n.name in refused)
