"""replace-nms: ONNX NonMaxSuppression (and the post-processing after it) → TensorRT's EfficientNMS_TRT.

EfficientNMS_TRT takes boxes [batch, anchors, 4] and scores [batch, anchors, classes] and returns
num_detections [batch, 1], detection_boxes [batch, max, 4], detection_scores [batch, max] and
detection_classes [batch, max]. The ONNX op's selected indices and the Slice/Gather chains that
turn them into boxes are replaced by those four outputs.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.detectors.nms import BOX_CODINGS, enclosing, nms_nodes, nms_settings
from workbench.core.fixes.graph_tools import gs_label, node_label
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem

PLUGIN_OP = "EfficientNMS_TRT"
OUTPUT_NAMES = ("num_detections", "detection_boxes", "detection_scores", "detection_classes")


def _find_nms(model: LoadedModel, params: dict) -> onnx.NodeProto:
    nodes = nms_nodes(model)
    if not nodes:
        raise WorkbenchError("The model has no NonMaxSuppression node.", "replace-nms only applies to ONNX NMS.")
    if "node" in params:
        for node in nodes:
            if node_label(node) == params["node"]:
                return node
        raise WorkbenchError(f"No NonMaxSuppression node is named '{params['node']}'.",
                             f"NMS nodes: {', '.join(node_label(n) for n in nodes)}.")
    if len(nodes) > 1:
        raise WorkbenchError(f"The model has {len(nodes)} NonMaxSuppression nodes.", "Name one with node=….")
    return nodes[0]


def _validate(model: LoadedModel, params: dict) -> None:
    node = _find_nms(model, params)
    if parent := enclosing(model, node):
        raise WorkbenchError(f"NonMaxSuppression '{node_label(node)}' runs inside '{parent}' (e.g. torchvision's "
                             "batched_nms), so replace-nms cannot replace it and what follows.",
                             "Apply cut-outputs at the network's raw outputs (before the post-processing) and run "
                             "NMS after the engine.")
    for key in ("score_threshold", "iou_threshold"):
        if key in params and not 0.0 <= params[key] <= 1.0:
            raise WorkbenchError(f"Parameter '{key}': {params[key]} is outside [0, 1].", "Thresholds are fractions.")
    if params.get("max_detections", 1) <= 0:
        raise WorkbenchError("Parameter 'max_detections' must be positive.", "e.g. max_detections=100.")


def _downstream(node: gs.Node) -> set[int]:
    """ids of every tensor computed from ``node``'s outputs."""
    seen: set[int] = set()
    stack = list(node.outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        for consumer in tensor.outputs:
            stack.extend(consumer.outputs)
    return seen


def _transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    settings = {**nms_settings(model, _find_nms(model, params)), **params}
    label = node_label(_find_nms(model, params))
    nms = next(n for n in graph.nodes if gs_label(n) == label)  # at the top level: _validate refuses nested ones
    if len(nms.inputs) < 2:
        raise WorkbenchError(f"NonMaxSuppression '{label}' has no scores input.")
    boxes, scores = nms.inputs[0], nms.inputs[1]
    batch = boxes.shape[0] if boxes.shape else "batch"
    classes_last = gs.Variable(f"{scores.name}_classes_last", dtype=np.float32)
    transpose = gs.Node("Transpose", name=f"{label}/scores_to_anchors_last", attrs={"perm": [0, 2, 1]},
                        inputs=[scores], outputs=[classes_last])
    limit = settings["max_detections"]
    outputs = [gs.Variable("num_detections", dtype=np.int32, shape=[batch, 1]),
               gs.Variable("detection_boxes", dtype=np.float32, shape=[batch, limit, 4]),
               gs.Variable("detection_scores", dtype=np.float32, shape=[batch, limit]),
               gs.Variable("detection_classes", dtype=np.int32, shape=[batch, limit])]
    plugin = gs.Node(PLUGIN_OP, name=f"{label}/efficient_nms", inputs=[boxes, classes_last], outputs=outputs, attrs={
        "plugin_version": "1", "background_class": -1, "score_activation": 0,
        "score_threshold": float(settings["score_threshold"]), "iou_threshold": float(settings["iou_threshold"]),
        "max_output_boxes": int(limit), "box_coding": BOX_CODINGS.index(settings["box_coding"])})
    graph.nodes.extend([transpose, plugin])
    after_nms = _downstream(nms)
    dropped = [t.name for t in graph.outputs if id(t) in after_nms]
    graph.outputs = [t for t in graph.outputs if id(t) not in after_nms] + outputs
    context.warnings.append(f"Outputs {', '.join(dropped)} are replaced by {', '.join(OUTPUT_NAMES)}: update the "
                            f"code that reads the engine's results. {PLUGIN_OP} is a TensorRT plugin: onnxruntime "
                            "cannot run the fixed model, so parity cannot be checked.")
    return graph.cleanup().toposort()


def _suggest(model: LoadedModel, problem: Problem | None) -> dict[str, str]:
    nodes = nms_nodes(model)
    node = next((n for n in nodes if problem and node_label(n) == problem.node), nodes[0] if nodes else None)
    if node is None:
        return {}
    return {key: str(value) for key, value in nms_settings(model, node).items()}


def suggest_cut_before_nms(model: LoadedModel, problem: Problem | None) -> dict[str, str]:
    nodes = nms_nodes(model)
    node = next((n for n in nodes if problem and node_label(n) == problem.node), nodes[0] if nodes else None)
    return {"tensors": f"{node.input[0]};{node.input[1]}"} if node is not None else {}


REPLACE_NMS = Fix(
    name="replace-nms", title="Replace NMS by EfficientNMS_TRT",
    changes_meaning="NonMaxSuppression becomes TensorRT's EfficientNMS plugin, whose outputs have another layout",
    description="Replace ONNX NonMaxSuppression and the Slice/Gather post-processing after it by TensorRT's "
                "EfficientNMS_TRT plugin (outputs num_detections, detection_boxes, detection_scores, "
                "detection_classes). Needs full TensorRT; onnxruntime cannot run the plugin.",
    params=(Param("score_threshold", "float", "Boxes scoring below this are dropped (default: the NMS node's).",
                  required=False),
            Param("iou_threshold", "float", "Overlap above which boxes are suppressed (default: the NMS node's).",
                  required=False),
            Param("max_detections", "int", "Detections kept per image (default: the NMS node's per-class limit).",
                  required=False),
            Param("box_coding", "choice", "Box format: corners (x1,y1,x2,y2) or center_size (default: the node's).",
                  required=False, choices=BOX_CODINGS),
            Param("node", "node", "The NonMaxSuppression node (needed when there are several).", required=False)),
    transform=_transform, validate=_validate, suggest=_suggest, may_change_numerics=True,
    needs_shapes=True,
    needs_weights=False,
)
