"""Failures planted in real corpus exports with onnx-graphsurgeon: the culprit in the middle of the graph, its
result fed back into the main path (so nothing is dead code and the culprit cannot be cut away for free)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx_graphsurgeon as gs

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _middle_tensor(graph: gs.Graph, op: str, dims: int) -> tuple[gs.Node, gs.Variable]:
    """The output of the middle ``op`` node whose output is a float tensor of rank ``dims``."""
    found = [n for n in graph.nodes if n.op == op and n.outputs[0].dtype == np.float32
             and n.outputs[0].shape is not None and len(n.outputs[0].shape) == dims]
    node = found[len(found) // 2]
    return node, node.outputs[0]


def _feed_back(graph: gs.Graph, tensor: gs.Variable, readers: list[gs.Node], side: gs.Variable, name: str) -> None:
    """``readers`` (of ``tensor``, before the planted branch) read ``tensor + 0 * float(reduce_max(side))`` instead:
    the same values, but the planted branch is on the main path."""
    as_float = graph.layer(op="Cast", name=f"{name}/cast", inputs=[side], outputs=[f"{name}/cast_out"],
                           attrs={"to": onnx.TensorProto.FLOAT})[0]
    largest = graph.layer(op="ReduceMax", name=f"{name}/max", inputs=[as_float], outputs=[f"{name}/max_out"],
                          attrs={"keepdims": 0})[0]
    zero = graph.layer(op="Mul", name=f"{name}/zero", inputs=[largest, gs.Constant(f"{name}/zero_c",
                                                                                   np.zeros((), np.float32))],
                       outputs=[f"{name}/zero_out"])[0]
    joined = graph.layer(op="Add", name=f"{name}/join", inputs=[tensor, zero], outputs=[f"{name}/joined"])[0]
    joined.dtype, joined.shape = tensor.dtype, tensor.shape
    for reader in readers:
        reader.inputs[reader.inputs.index(tensor)] = joined
    for index, output in enumerate(graph.outputs):
        if output is tensor:
            graph.outputs[index] = joined


def _save(graph: gs.Graph, template: onnx.ModelProto, path: Path) -> Path:
    graph.cleanup().toposort()
    model = gs.export_onnx(graph)
    model.ir_version = template.ir_version
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def plant_nonzero(source: str, path: Path, op: str = "MatMul") -> tuple[Path, str]:
    """``source`` with a NonZero (which TensorRT-RTX's parser refuses) on the middle ``op``'s output; returns the
    file and the NonZero's node name."""
    template = onnx.load(str(CORPUS / source))
    graph = gs.import_onnx(onnx.shape_inference.infer_shapes(template))
    _node, tensor = _middle_tensor(graph, op, 3)
    readers = list(tensor.outputs)
    positive = graph.layer(op="Greater", name="planted/greater",
                           inputs=[tensor, gs.Constant("planted/zero_f", np.zeros((), np.float32))],
                           outputs=["planted/mask"])[0]
    indices = graph.layer(op="NonZero", name="planted/nonzero", inputs=[positive], outputs=["planted/indices"])[0]
    _feed_back(graph, tensor, readers, indices, "planted/nonzero_back")
    return _save(graph, template, path), "planted/nonzero"


def plant_nms(source: str, path: Path) -> tuple[Path, str]:
    """``source`` with a NonMaxSuppression (TensorRT-RTX builds no runner for it) on the features after its
    Flatten: boxes [batch, C/4, 4], scores [batch, 1, C/4]; returns the file and the NMS node name."""
    template = onnx.load(str(CORPUS / source))
    graph = gs.import_onnx(template)
    flatten = next(n for n in graph.nodes if n.op == "Flatten")
    features = flatten.outputs[0]
    readers = list(features.outputs)
    boxes = graph.layer(op="Reshape", name="planted/boxes",
                        inputs=[features, gs.Constant("planted/box_shape", np.array([0, -1, 4], np.int64))],
                        outputs=["planted/boxes_out"])[0]
    mean = graph.layer(op="ReduceMean", name="planted/score", inputs=[boxes], outputs=["planted/score_out"],
                       attrs={"axes": [2], "keepdims": 0})[0]
    scores = graph.layer(op="Unsqueeze", name="planted/scores",
                         inputs=[mean, gs.Constant("planted/axis", np.array([1], np.int64))],
                         outputs=["planted/scores_out"])[0]
    selected = graph.layer(op="NonMaxSuppression", name="planted/nms",
                           inputs=[boxes, scores, gs.Constant("planted/max_boxes", np.array([10], np.int64))],
                           outputs=["planted/selected"])[0]
    _feed_back(graph, features, readers, selected, "planted/nms_back")
    return _save(graph, template, path), "planted/nms"


CUSTOM_DOMAIN = "com.example.planted"


def plant_custom_op(source: str, path: Path, op: str = "MatMul") -> tuple[Path, str]:
    """``source`` with an op of a custom domain (no TensorRT importer, no plugin) on the middle ``op``'s output,
    its result declared with the input's type and shape (as exporters of custom ops declare it) and read by what
    read that output; returns the file and the custom node's name."""
    template = onnx.load(str(CORPUS / source))
    graph = gs.import_onnx(onnx.shape_inference.infer_shapes(template))
    _node, tensor = _middle_tensor(graph, op, 3)
    readers = list(tensor.outputs)
    result = gs.Variable("planted/custom_out", dtype=tensor.dtype, shape=tensor.shape)
    graph.nodes.append(gs.Node(op="PlantedOp", name="planted/custom", domain=CUSTOM_DOMAIN, inputs=[tensor],
                               outputs=[result]))
    for reader in readers:
        reader.inputs[reader.inputs.index(tensor)] = result
    graph.cleanup().toposort()
    model = gs.export_onnx(graph)
    model.ir_version = template.ir_version
    if not any(o.domain == CUSTOM_DOMAIN for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid(CUSTOM_DOMAIN, 1))
    onnx.save(model, str(path))
    return path, "planted/custom"
