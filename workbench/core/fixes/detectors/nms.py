"""ONNX NonMaxSuppression, which TensorRT-RTX cannot build (replace-nms, cut-outputs), and TensorRT plugin nodes
the active backend does not provide."""

from __future__ import annotations

from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.loading import LoadedModel, iter_nodes, node_label
from workbench.core.model.protos import NodeProto
from workbench.core.onnxruntime_compat import onnx_op_names
from workbench.core.problems import Problem, ProblemKind, Severity, Stage

BOX_CODINGS = ("corners", "center_size")  # EfficientNMS_TRT box_coding 0 / 1, like ONNX center_point_box
_DEFAULT_MAX_DETECTIONS = 100


def nms_nodes(model: LoadedModel) -> list[NodeProto]:
    return [n for n, _ in iter_nodes(model.proto.graph) if n.op_type == "NonMaxSuppression"]


def enclosing(model: LoadedModel, node: NodeProto) -> str:
    """The top-level If/Loop holding ``node`` ("" at the top level), e.g. torchvision's batched_nms If."""
    return next((parent for n, parent in iter_nodes(model.proto.graph) if n is node), "")


def nms_settings(model: LoadedModel, node: NodeProto) -> dict:
    """The NMS node's own thresholds, where they are constants (initializers or Constant nodes)."""
    constants = ConstantValues(model.proto)
    inputs = list(node.input) + [""] * (5 - len(node.input))
    per_class, iou, score = (constants.scalar(name) if name else None for name in inputs[2:5])
    center = next((a.i for a in node.attribute if a.name == "center_point_box"), 0)
    return {"score_threshold": score if score is not None else 0.0,
            "iou_threshold": iou if iou is not None else 0.0,
            "max_detections": int(per_class) if per_class else _DEFAULT_MAX_DETECTIONS,
            "box_coding": BOX_CODINGS[center]}


def detect_nms(model: LoadedModel, backend=None) -> list[Problem]:
    problems = []
    for node in nms_nodes(model):
        if backend is not None and backend.is_rtx:
            severity, where = "error", (f"the {backend.name} {backend.version} builder has no implementation of it "
                                        "(the build fails with \"has no runners that implement it\")")
        else:
            severity, where = "warning", "TensorRT runs it as a slow generic layer or not at all, depending on version"
        boxes, scores = node.input[0], node.input[1]
        parent = enclosing(model, node)
        hint = (f"Apply replace-nms (EfficientNMS_TRT plugin, full TensorRT) or cut-outputs (tensors={boxes};{scores}) "
                "and run NMS after the engine.") if not parent else (
                f"It runs inside '{parent}' (like torchvision's batched_nms), which replace-nms cannot rewire: apply "
                "cut-outputs at the network's raw outputs before the post-processing and run it after the engine.")
        problems.append(Problem(
            kind=ProblemKind.NMS, severity=severity, stage=Stage.BUILD, node=node_label(node), op="NonMaxSuppression",
            parent=parent, fixes=["cut-outputs"] if parent else ["replace-nms", "cut-outputs"],
            message=f"NonMaxSuppression '{node_label(node)}': {where}.", hint=hint))
    return problems


def detect_unavailable_plugins(model: LoadedModel, backend=None) -> list[Problem]:
    """Plugin nodes the active backend cannot provide (say so before the parser's terse error)."""
    if backend is None:
        return []
    problems = []
    for node, parent in iter_nodes(model.proto.graph):
        if node.op_type.endswith("_TRT") and node.op_type not in onnx_op_names() \
                and node.op_type not in backend.plugin_names:
            problems.append(Problem(
                kind=ProblemKind.PLUGIN_UNAVAILABLE, severity=Severity.ERROR, stage=Stage.PARSE,
                node=node_label(node), op=node.op_type,
                parent=parent if parent != node.name else "",
                message=f"{node.op_type} is a TensorRT plugin that the active backend ({backend.name} "
                        f"{backend.version}) does not provide; this model builds with full TensorRT only.",
                hint="Build with full TensorRT (--backend tensorrt), or undo the fix that added it and cut the "
                     "outputs before it instead."))
    return problems
