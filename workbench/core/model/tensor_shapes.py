"""ONNX shape inference without carrying the weights, and every tensor's type and shape.

``onnx.shape_inference.infer_shapes`` serializes the whole model into C++ (twice, in and out), so
on a 100 MB model it costs about a second per call. Inference only needs the weights' types and
shapes, plus the values of small constants (shapes, axes, scales) for data propagation; the
weightless copy keeps exactly that, and the inferred ``value_info`` is copied back.
"""

from __future__ import annotations

import math

from workbench.core.model.loading import TensorInfo, tensor_info
from workbench.core.model.protos import (GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
                                         element_type_name, uses_external_data)

# Initializers and Constant nodes with fewer elements keep their values (shape, axes and scale
# constants feed data propagation); larger ones are weights and become typed graph inputs.
_KEEP_VALUES_BELOW = 1024


def weightless_copy(proto: ModelProto) -> ModelProto:
    graph = proto.graph
    skeleton = ModelProto()
    skeleton.ir_version = proto.ir_version
    skeleton.opset_import.extend(proto.opset_import)
    skeleton.functions.extend(proto.functions)
    skeleton.graph.name = graph.name
    skeleton.graph.input.extend(graph.input)
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        weight = _constant_node_weight(node)
        if weight is None or node.output[0] in outputs:
            skeleton.graph.node.append(node)
        else:  # exporters like paddle2onnx write every weight as a Constant node
            skeleton.graph.input.append(_typed_input(node.output[0], weight.data_type, weight.dims))
    skeleton.graph.output.extend(graph.output)
    skeleton.graph.value_info.extend(graph.value_info)
    declared = {i.name for i in graph.input}
    for tensor in graph.initializer:
        if math.prod(tensor.dims) < _KEEP_VALUES_BELOW and not uses_external_data(tensor):
            skeleton.graph.initializer.append(tensor)
        elif tensor.name not in declared:
            skeleton.graph.input.append(_typed_input(tensor.name, tensor.data_type, tensor.dims))
    return skeleton


def _typed_input(name: str, elem_type: int, dims) -> ValueInfoProto:
    """A graph input of a fixed type and shape (what ``onnx.helper.make_tensor_value_info`` makes)."""
    value = ValueInfoProto(name=name)
    value.type.tensor_type.elem_type = elem_type
    value.type.tensor_type.shape.SetInParent()  # a scalar keeps its (empty) shape: rank 0, not unknown
    for dim in dims:
        value.type.tensor_type.shape.dim.add().dim_value = dim
    return value


def _constant_node_weight(node: NodeProto) -> TensorProto | None:
    """The tensor of a Constant node holding a weight (too large to matter for data propagation)."""
    if node.op_type != "Constant" or len(node.attribute) != 1 or node.attribute[0].name != "value":
        return None
    tensor = node.attribute[0].t
    return tensor if math.prod(tensor.dims) >= _KEEP_VALUES_BELOW else None


def infer_value_info(proto: ModelProto, *, data_prop: bool = False, strict: bool = False) -> GraphProto:
    """The inferred top-level graph of the weightless copy (its value_info and outputs are what counts)."""
    import onnx.shape_inference

    return onnx.shape_inference.infer_shapes(weightless_copy(proto), strict_mode=strict, data_prop=data_prop).graph


def tensor_shapes(proto: ModelProto) -> dict[str, TensorInfo]:
    """Type and shape of every tensor in the top-level graph, for the triage detail view."""
    graph = proto.graph
    try:
        inferred = infer_value_info(proto)
    except Exception:  # a model shape inference cannot handle still shows its declared shapes
        inferred = graph
    shapes = {}
    for value in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        shapes[value.name] = tensor_info(value)
    for tensor in graph.initializer:
        shapes[tensor.name] = TensorInfo(tensor.name, element_type_name(tensor.data_type), tuple(tensor.dims))
    return shapes
