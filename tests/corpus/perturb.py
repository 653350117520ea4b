"""A copy of a model with one weight scaled, for "the comparator catches a planted perturbation" tests.

Pure onnx + numpy (no torch). The weight is found whether it is an initializer (PyTorch exports) or
the value of a ``Constant`` node (paddle2onnx-style exports), also inside ``If`` branches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from tests.corpus.catalog import CATALOG

CORPUS = Path(__file__).resolve().parent

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


def perturbed_branch_copy(src: str | Path, dst: str | Path, branch: str, scale: float = 1.3) -> str:
    """Write to ``dst`` a copy of ``src`` whose first ``If``'s ``branch`` ("then_branch" / "else_branch") alone
    multiplies one MatMul weight by ``scale`` (a new initializer: the weights are shared by both branches);
    returns the MatMul's name. ``src`` is never modified."""
    model = onnx.load(str(src))
    node = next(n for n in model.graph.node if n.op_type == "If")
    graph = next(a.g for a in node.attribute if a.name == branch)
    initializers = {i.name: i for i in model.graph.initializer}
    matmul = next(n for n in graph.node if n.op_type == "MatMul" and n.input[1] in initializers)
    weight = initializers[matmul.input[1]]
    scaled = numpy_helper.from_array(numpy_helper.to_array(weight) * np.float32(scale), f"{weight.name}_perturbed")
    graph.initializer.append(scaled)
    matmul.input[1] = scaled.name
    onnx.save(model, str(dst))
    return matmul.name


def renamed_inputs_copy(src: str | Path, dst: str | Path, names: dict[str, str]) -> None:
    """Write to ``dst`` a copy of ``src`` whose graph inputs are renamed by ``names`` (old → new), in every node
    that reads them, If/Loop bodies included: the same model without what its input names say."""
    model = onnx.load(str(src))
    for value in model.graph.input:
        value.name = names.get(value.name, value.name)
    for node in _nodes_in_order(model.graph):
        node.input[:] = [names.get(name, name) for name in node.input]
    onnx.save(model, str(dst))


def with_side_files(name: str, folder: str | Path) -> Path:
    """Copy the side files of corpus model ``name`` (config.json …) into ``folder``; returns the path a changed copy
    of the model should take there, so the tools read the same side files beside it."""
    folder = Path(folder)
    for side_file in CATALOG[name].get("side_files", []):
        (folder / side_file).write_bytes(((CORPUS / name).parent / side_file).read_bytes())
    return folder / Path(name).name
