"""PyTorch's GroupNorm export spread over five ops (fuse-groupnorm)."""

from __future__ import annotations

from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem, ProblemKind, Severity, Stage


def detect_groupnorms(model: LoadedModel, _backend=None) -> list[Problem]:
    if not any(n.op_type == "InstanceNormalization" for n in model.proto.graph.node):
        return []
    # The pattern is matched on onnx-graphsurgeon's graph (its constants come in every exporter's form): only a
    # model with InstanceNormalization imports it.
    from workbench.core.fixes.graph_tools import import_graph
    from workbench.core.fixes.groupnorm import find_groupnorms

    matches = find_groupnorms(import_graph(model.proto, model.weights_dir))
    return [Problem(kind=ProblemKind.GROUPNORM_PATTERN, severity=Severity.INFO, stage=Stage.MODEL,
                    node=m.instance_norm.name,
                    op="InstanceNormalization", fixes=["fuse-groupnorm"],
                    message=f"'{m.instance_norm.name}' is PyTorch's GroupNorm export ({m.groups} groups) spread over "
                            "Reshape → InstanceNormalization → Reshape → Mul → Add; one GroupNormalization op lets "
                            "TensorRT use its fused normalization kernel.",
                    hint="Apply fuse-groupnorm (raises the opset to 21).")
            for m in matches]
