"""A copy of a model with one weight scaled, for "the comparator catches a planted perturbation" tests.

Pure onnx + numpy (no torch). The weight is found whether it is an initializer (PyTorch exports) or
the value of a ``Constant`` node (paddle2onnx-style exports), also inside ``If`` branches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")


def _nodes_in_order(graph: onnx.GraphProto):
    """Every node, depth first: a node's subgraph nodes right after the node itself."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _nodes_in_order(attribute.g)


def _constant_tensors(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """Tensor name → the TensorProto holding its value (initializer or Constant 'value'), all graphs."""
    tensors = {init.name: init for init in graph.initializer}
    for node in _nodes_in_order(graph):
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                tensors.update({init.name: init for init in attribute.g.initializer})
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            tensors[node.output[0]] = node.attribute[0].t
    return tensors


def first_weight(model: onnx.ModelProto) -> tuple[onnx.NodeProto, onnx.TensorProto]:
    """The first Conv / Gemm / MatMul that has a constant weight (2-D or more), and that weight."""
    tensors = _constant_tensors(model.graph)
    for node in _nodes_in_order(model.graph):
        if node.op_type in WEIGHTED_OPS:
            for name in node.input[:2]:
                tensor = tensors.get(name)
                if tensor is not None and len(tensor.dims) >= 2:
                    return node, tensor
    raise ValueError(f"no {'/'.join(WEIGHTED_OPS)} with a constant weight in the model")


def perturbed_copy(src: str | Path, dst: str | Path, scale: float = 1.3) -> str:
    """Write to ``dst`` a copy of ``src`` with its first Conv/Gemm/MatMul weight multiplied by
    ``scale``; returns the name of the node whose weight changed. ``src`` is never modified."""
    model = onnx.load(str(src))  # loads external data too; the copy is written as one file
    node, tensor = first_weight(model)
    scaled = numpy_helper.from_array(numpy_helper.to_array(tensor) * np.float32(scale), tensor.name)
    tensor.CopyFrom(scaled)
    onnx.save(model, str(dst))
    return node.name
