"""Values of constant tensors, whichever way an exporter wrote them.

Hand-built graphs keep constants in initializers; real exporters do not. PyTorch writes the shapes,
scales and biases of small patterns (GroupNorm's group shape, InstanceNormalization's scale and
bias) as ``Constant`` nodes, paddle2onnx writes every weight that way, and others put an Identity,
Cast, Unsqueeze or Reshape between a constant and its reader. Code that asks "is this input a
constant, and what is it?" asks here, at the ONNX level (``ConstantValues``) or the
onnx-graphsurgeon level (``gs_constant_value``), and gets the same answer for all of these forms.

The see-through ops are evaluated with ONNX's reference implementation, so their semantics
(Reshape's 0 and -1, Cast's rounding, opset differences) are ONNX's own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

from workbench.core.model.loading import iter_nodes
from workbench.core.model.protos import GraphProto, ModelProto, NodeProto, TensorProto, uses_external_data

if TYPE_CHECKING:
    import numpy as np
    import onnx_graphsurgeon as gs

# Ops whose output is a constant when their inputs are, and cheap to compute: what exporters put
# between a constant and the node that reads it.
SEE_THROUGH_OPS = frozenset({"Identity", "Cast", "Unsqueeze", "Squeeze", "Reshape", "Flatten"})
_COMPUTED_SHAPE_LIMIT = 1 << 16  # elements: above this, a computed constant's shape is not worth its values


def evaluate_node(node: NodeProto, inputs: list[np.ndarray], opset: int) -> np.ndarray | None:
    """The first output of ``node`` (a Constant or see-through op) on ``inputs``; None if ONNX cannot say."""
    import numpy as np
    from onnx.reference import ReferenceEvaluator

    try:
        evaluator = ReferenceEvaluator(node, opsets={"": opset})
        # Without intermediate=True, run returns the outputs as a list (its hint names the dict form too).
        outputs = cast("list[object]", evaluator.run(None, dict(zip(node.input, inputs))))
        return np.asarray(outputs[0])
    except Exception:  # an attribute form the reference implementation refuses: not a constant we can read
        return None


def _opset(proto: ModelProto) -> int:
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None:
        return opset
    import onnx.defs

    return onnx.defs.onnx_opset_version()


class ConstantValues:
    """Constant tensors of a model by name: initializers, Constant nodes, and see-through ops over them.

    Nested If/Loop bodies are included (ONNX tensor names are unique across scopes). Values are
    computed on request and kept; an initializer stored as external data has no value here (its
    name still counts as constant).
    """

    def __init__(self, proto: ModelProto):
        self._opset = _opset(proto)
        self._initializers: dict[str, TensorProto] = {}
        self._producers: dict[str, NodeProto] = {}
        for graph in _graphs(proto.graph):
            self._initializers.update((t.name, t) for t in graph.initializer)
        for node, _parent in iter_nodes(proto.graph):
            if node.op_type == "Constant" or node.op_type in SEE_THROUGH_OPS:
                self._producers[node.output[0]] = node
        self._values: dict[str, np.ndarray | None] = {}
        self._constant: dict[str, bool] = {}

    def is_source(self, name: str) -> bool:
        """Whether ``name`` is stored as a constant (an initializer or a Constant node's output)."""
        return name in self._initializers or (name in self._producers and self._producers[name].op_type == "Constant")

    def __contains__(self, name: str) -> bool:
        """Whether ``name`` is constant (without computing its value)."""
        if name not in self._constant:
            self._constant[name] = False  # a cycle through see-through ops is not a constant
            node = self._producers.get(name)
            self._constant[name] = self.is_source(name) or (
                node is not None and all(not i or i in self for i in node.input))
        return self._constant[name]

    def get(self, name: str) -> np.ndarray | None:
        """The value of ``name``, or None when it is not a constant (or its value cannot be read)."""
        if name in self._values:
            return self._values[name]
        self._values[name] = None
        if name in self._initializers:
            tensor = self._initializers[name]
            value = None if uses_external_data(tensor) else _array(tensor)
        elif name in self._producers and name in self:
            node = self._producers[name]
            inputs = [self.get(i) for i in node.input]
            known = [v for v in inputs if v is not None]
            value = evaluate_node(node, known, self._opset) if len(known) == len(inputs) else None
        else:
            value = None
        self._values[name] = value
        return value

    def shape(self, name: str) -> tuple[int, ...] | None:
        """The shape of a constant, read without its value where it is stored (a weight-free model keeps large
        tensors on disk, and an embedding table's rows are its shape[0]); through Identity and Cast, which keep
        it. None when ``name`` is not a constant."""
        if name in self._initializers:
            return tuple(self._initializers[name].dims)
        node = self._producers.get(name)
        if node is None or name not in self:
            return None
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            return tuple(node.attribute[0].t.dims)
        if node.op_type in ("Identity", "Cast"):
            return self.shape(node.input[0])
        source = self.shape(node.input[0]) if node.op_type != "Constant" else ()
        if source is None or math.prod(source) > _COMPUTED_SHAPE_LIMIT:
            return None  # a reshaped weight: its shape is not worth computing its values for
        value = self.get(name)  # a small computed constant (Reshape/Unsqueeze of one, a Constant's value_ints)
        return tuple(value.shape) if value is not None else None

    def scalar(self, name: str):
        """The Python value of a one-element constant, or None (a larger constant's values are not read)."""
        shape = self.shape(name)
        if shape is None or math.prod(shape) != 1:
            return None
        value = self.get(name)
        return value.reshape(-1)[0].item() if value is not None and value.size == 1 else None


def _array(tensor: TensorProto) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)


def _graphs(graph: GraphProto):
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                yield from _graphs(sub)


def gs_constant_value(tensor: gs.Tensor, opset: int) -> np.ndarray | None:
    """The value of an onnx-graphsurgeon tensor if it is constant in any of the forms above, else None."""
    import numpy as np
    import onnx
    import onnx_graphsurgeon as gs

    if isinstance(tensor, gs.Constant):
        return np.asarray(tensor.values)
    if len(tensor.inputs) != 1:
        return None
    node = tensor.inputs[0]
    if node.op == "Constant":
        attr = node.attrs.get("value")
        if isinstance(attr, gs.Constant):
            return np.asarray(attr.values)
        return evaluate_node(onnx.helper.make_node("Constant", [], [tensor.name], **node.attrs), [], opset)
    if node.op not in SEE_THROUGH_OPS or node.outputs[0] is not tensor:
        return None
    inputs = [gs_constant_value(t, opset) if not t.is_empty() else None for t in node.inputs]
    known = [v for v in inputs if v is not None]
    if len(known) < len(inputs):
        return None
    names = [f"in{i}" for i in range(len(inputs))]
    return evaluate_node(onnx.helper.make_node(node.op, names, [tensor.name], **node.attrs), known, opset)
