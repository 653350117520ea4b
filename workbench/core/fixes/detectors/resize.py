"""Resize settings the TensorRT parser rejects (fix-resize-mode)."""

from __future__ import annotations

from workbench.core.model.loading import LoadedModel, iter_nodes, node_attribute, node_label
from workbench.core.model.protos import NodeProto
from workbench.core.problems import Problem, ProblemKind, Severity, Stage

# What the TensorRT ONNX parser accepts (its own assertion text lists these coordinate modes).
SUPPORTED_COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                              "tf_half_pixel_for_nn")


def rejected_settings(node: NodeProto) -> list[str]:
    """Why the TensorRT parser would refuse this Resize node (empty when it accepts it)."""
    reasons = []
    mode = node_attribute(node, "coordinate_transformation_mode", b"half_pixel").decode()
    if mode not in SUPPORTED_COORDINATE_MODES:
        reasons.append(f"coordinate_transformation_mode={mode}")
    if node_attribute(node, "antialias", 0):
        reasons.append("antialias=1")
    return reasons


def rejected_nodes(model: LoadedModel) -> list[tuple[NodeProto, str, list[str]]]:
    return [(node, parent, reasons) for node, parent in iter_nodes(model.proto.graph)
            if node.op_type == "Resize" and (reasons := rejected_settings(node))]


def detect_resize_modes(model: LoadedModel, _backend=None) -> list[Problem]:
    return [Problem(kind=ProblemKind.RESIZE_MODE, severity=Severity.ERROR, stage=Stage.PARSE,
                    node=node_label(node), op="Resize",
                    parent=parent if parent != node.name else "", fixes=["fix-resize-mode"],
                    message=f"Resize '{node_label(node)}' uses {', '.join(reasons)}, which TensorRT does not support "
                            f"(it takes {', '.join(SUPPORTED_COORDINATE_MODES)}, without antialiasing).",
                    hint="Apply fix-resize-mode; outputs change slightly, the parity check shows by how much.")
            for node, parent, reasons in rejected_nodes(model)]
