"""Type and shape of every tensor in the top-level graph, for the triage detail view.

Shape inference runs on a copy without weight data (initializers become typed graph inputs), so
it stays cheap on models with hundreds of megabytes of weights.
"""

from __future__ import annotations

import onnx

from workbench.core.model import TensorInfo, dtype_name, tensor_info


def tensor_shapes(proto: onnx.ModelProto) -> dict[str, TensorInfo]:
    graph = proto.graph
    skeleton = onnx.ModelProto()
    skeleton.ir_version = proto.ir_version
    skeleton.opset_import.extend(proto.opset_import)
    skeleton.functions.extend(proto.functions)
    skeleton.graph.node.extend(graph.node)
    skeleton.graph.input.extend(graph.input)
    skeleton.graph.output.extend(graph.output)
    skeleton.graph.value_info.extend(graph.value_info)
    declared = {i.name for i in graph.input}
    for tensor in graph.initializer:
        if tensor.name not in declared:
            skeleton.graph.input.append(onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, tensor.dims))
    try:
        inferred = onnx.shape_inference.infer_shapes(skeleton, strict_mode=False).graph
    except Exception:  # a model shape inference cannot handle still shows its declared shapes
        inferred = skeleton.graph
    shapes = {}
    for value in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        shapes[value.name] = tensor_info(value)
    for tensor in graph.initializer:
        shapes[tensor.name] = TensorInfo(tensor.name, dtype_name(tensor.data_type), tuple(tensor.dims))
    return shapes
