"""Ranges for the data-dependent dims of tensors handed to a TensorRT part (a count of detections, of boxes
above a threshold): they can be 0, and the graph often caps them (TopK's k, NonMaxSuppression's maximum,
NonZero's input size).

``DimBounds.upper(tensor, axis)`` works the cap out backwards through the ops that produce the tensor; it is
``None`` where no op on the way gives one (the caller then states an assumption).
"""

from __future__ import annotations

import math

import onnx
from onnx import numpy_helper

from workbench.core.model.loading import iter_nodes

# Ops whose output size depends on the values of the data they read (TopK: torchvision's k = min(k, count)).
DATA_DEPENDENT_OPS = frozenset({"NonZero", "NonMaxSuppression", "Unique", "Compress", "TopK", "Loop"})
# Ops whose output has the (broadcast) shape of their inputs.
_ELEMENTWISE = frozenset({
    "Abs", "Acos", "Add", "And", "Asin", "Atan", "Cast", "CastLike", "Ceil", "Clip", "Cos", "Div", "Elu", "Equal",
    "Erf", "Exp", "Floor", "Gelu", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "Identity", "IsInf",
    "IsNaN", "LeakyRelu", "Less", "LessOrEqual", "Log", "LogSoftmax", "Max", "Min", "Mod", "Mul", "Neg", "Not",
    "Or", "Pow", "PRelu", "Reciprocal", "Relu", "Round", "Selu", "Sigmoid", "Sign", "Sin", "Softmax", "Softplus",
    "Sqrt", "Sub", "Tanh", "Where", "Xor"})
_MAX_DEPTH = 400  # a cap needs few steps back; a long chain of unknown ops gives none


class DimBounds:
    """Upper bounds of tensor dims over one graph, from the inferred types and the producing ops."""

    def __init__(self, graph: onnx.GraphProto, types: dict[str, onnx.ValueInfoProto]):
        self.types = types
        self.producer = {o: node for node in graph.node for o in node.output if o}
        self.constants: dict[str, onnx.TensorProto] = {t.name: t for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = node.attribute[0].t
        self._memo: dict[tuple[str, int], int | None] = {}

    def data_dependent(self, tensor: str) -> bool:
        """Whether an op whose output size depends on values lies upstream of ``tensor``."""
        seen, frontier = set(), [tensor]
        while frontier:
            name = frontier.pop()
            node = self.producer.get(name)
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if node.op_type in DATA_DEPENDENT_OPS:
                return True
            frontier.extend(n for n in node.input if n)
            frontier.extend(n for child, _ in _body_nodes(node) for n in child.input if n)
        return False

    def upper(self, tensor: str, axis: int, depth: int = 0) -> int | None:
        key = (tensor, axis)
        if key not in self._memo:
            self._memo[key] = None if depth > _MAX_DEPTH else self._upper(tensor, axis, depth + 1)
        return self._memo[key]

    def value_upper(self, tensor: str, depth: int = 0) -> int | None:
        """The largest value an integer tensor can hold, where constants decide it: torchvision's TopK k is
        ``min(k, count)``, a ReduceMin over a Concat of the constant k and a Shape."""
        const = self._const(tensor)
        if const is not None:
            return int(const.max()) if const.size and const.dtype.kind in "iu" else None
        node = self.producer.get(tensor)
        if node is None or depth > _MAX_DEPTH:
            return None
        if node.op_type in ("Reshape", "Unsqueeze", "Squeeze", "Cast", "Identity", "Flatten"):
            return self.value_upper(node.input[0], depth + 1)
        if node.op_type in ("Min", "ReduceMin"):
            pieces = list(node.input)
            if node.op_type == "ReduceMin":
                source = self.producer.get(node.input[0])
                whole = self._rank(node.input[0]) == 1 or not (len(node.input) > 1 or
                                                               any(a.name == "axes" for a in node.attribute))
                pieces = list(source.input) if source is not None and source.op_type == "Concat" and whole \
                    else [node.input[0]]
            known = [v for v in (self.value_upper(p, depth + 1) for p in pieces if p) if v is not None]
            return min(known) if known else None  # a minimum is at most any one of its terms
        if node.op_type == "Concat":
            values = _known([self.value_upper(p, depth + 1) for p in node.input if p])
            return max(values) if values else None
        return None

    def _static(self, tensor: str, axis: int) -> int | None:
        info = self.types.get(tensor)
        if info is None or not info.type.tensor_type.HasField("shape"):
            return None
        dims = info.type.tensor_type.shape.dim
        return dims[axis].dim_value if 0 <= axis < len(dims) and dims[axis].HasField("dim_value") else None

    def _rank(self, tensor: str) -> int | None:
        info = self.types.get(tensor)
        if info is None or not info.type.tensor_type.HasField("shape"):
            return None
        return len(info.type.tensor_type.shape.dim)

    def _numel(self, tensor: str, depth: int) -> int | None:
        rank = self._rank(tensor)
        sizes = _known([self.upper(tensor, a, depth) for a in range(rank)]) if rank is not None else None
        return math.prod(sizes) if sizes is not None else None

    def _const(self, name: str):
        """The value of a small constant (k, a maximum count); None for a computed tensor or one whose data the
        weight-free model does not hold."""
        tensor = self.constants.get(name)
        if tensor is None or tensor.data_location == onnx.TensorProto.EXTERNAL:
            return None
        return numpy_helper.to_array(tensor)

    def _upper(self, tensor: str, axis: int, depth: int) -> int | None:
        static = self._static(tensor, axis)
        if static is not None:
            return static
        node = self.producer.get(tensor)
        if node is None:
            return None
        op, inputs = node.op_type, list(node.input)
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        rank = self._rank(tensor)
        up = self.upper
        if op in _ELEMENTWISE:
            candidates: list[int | None] = []
            for name in (n for n in inputs if n):
                in_rank = self._rank(name)
                if in_rank is None:
                    return None
                in_axis = axis - ((rank or in_rank) - in_rank)
                if in_axis >= 0:
                    candidates.append(up(name, in_axis, depth))
            known_sizes = _known(candidates)
            return max(known_sizes) if known_sizes else None
        if op == "TopK":
            topk_axis = attrs.get("axis", -1) % (rank or 1)
            searched = up(inputs[0], axis, depth)
            k = self.value_upper(inputs[1], depth) if axis == topk_axis else None
            known = [v for v in (k, searched) if v is not None]
            return min(known) if known else None
        if op == "NonZero":
            return self._numel(inputs[0], depth) if axis == 1 else self._static(tensor, axis)
        if op == "NonMaxSuppression" and axis == 0:
            limit = self._const(inputs[2]) if len(inputs) > 2 and inputs[2] else None
            batch, classes = up(inputs[1], 0, depth), up(inputs[1], 1, depth)
            per_class = int(limit.reshape(-1)[0]) if limit is not None else up(inputs[0], 1, depth)
            sizes = _known([batch, classes, per_class, up(inputs[0], 1, depth)])
            if sizes is None:
                return None
            return sizes[0] * sizes[1] * min(sizes[2], sizes[3])
        if op == "Gather":
            gather_axis = attrs.get("axis", 0) % (self._rank(inputs[0]) or 1)
            index_rank = self._rank(inputs[1])
            if index_rank is None:
                return None
            if axis < gather_axis:
                return up(inputs[0], axis, depth)
            if axis < gather_axis + index_rank:
                return up(inputs[1], axis - gather_axis, depth)
            return up(inputs[0], axis - index_rank + 1, depth)
        if op == "Concat":
            concat_axis = attrs["axis"] % (rank or 1)
            pieces = _known([up(n, axis, depth) for n in inputs if n])
            if not pieces:
                return None
            return sum(pieces) if axis == concat_axis else max(pieces)
        if op in ("Slice", "Split"):
            return up(inputs[0], axis, depth)  # a piece is never larger than the whole
        if op == "Transpose":
            perm = attrs.get("perm") or list(reversed(range(rank or 0)))
            return up(inputs[0], perm[axis], depth) if axis < len(perm) else None
        if op == "Flatten":
            split_at = attrs.get("axis", 1) % ((self._rank(inputs[0]) or 0) + 1)
            in_rank = self._rank(inputs[0]) or 0
            side = range(split_at) if axis == 0 else range(split_at, in_rank)
            merged = _known([up(inputs[0], a, depth) for a in side])
            return math.prod(merged) if merged is not None else None
        if op in ("Squeeze", "Unsqueeze"):
            given = self._const(inputs[1]) if len(inputs) > 1 and inputs[1] else attrs.get("axes")
            if given is None:
                return None
            if op == "Unsqueeze":
                axes = {int(a) % (rank or 1) for a in list(given)}
                return 1 if axis in axes else up(inputs[0], axis - sum(a < axis for a in axes), depth)
            in_rank = self._rank(inputs[0]) or 0
            kept = [a for a in range(in_rank) if a not in {int(x) % in_rank for x in list(given)}]
            return up(inputs[0], kept[axis], depth) if axis < len(kept) else None
        if op in ("Gemm", "MatMul"):
            if axis == (rank or 0) - 1:
                return None
            transposed = op == "Gemm" and attrs.get("transA", 0)
            return up(inputs[0], 1 - axis if transposed else axis, depth)
        if op == "RoiAlign" and axis == 0:
            return up(inputs[1], 0, depth)
        return None


def _known(values: list[int | None]) -> list[int] | None:
    """``values`` when every one is known, else None (a bound over them needs them all)."""
    known = [v for v in values if v is not None]
    return known if len(known) == len(values) else None


def _body_nodes(node: onnx.NodeProto):
    for attr in node.attribute:
        for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
            yield from iter_nodes(sub)
