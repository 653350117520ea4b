"""Switch inputs' values: which value a small input that steers the graph takes, and the array it is frozen at.

A switch (``input_roles.steered_nodes``: a ratio, a flag, a sample rate deciding an ``If``, a ``Resize`` or a
``Loop``) runs one path per value. The shape probe and comparisons run the path the model takes in deployment
(``default_values``); ``compare`` also runs the other branch (``other_branch_values``); freeze-input bakes one
value in (``frozen_array``). One module answers all three, so they never disagree.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from workbench.core.errors import WorkbenchError
from workbench.core.model.constant_values import SEE_THROUGH_OPS, ConstantValues
from workbench.core.model.loading import LoadedModel, TensorInfo, input_info, iter_nodes, node_label
from workbench.core.model.protos import GraphProto, NodeProto

if TYPE_CHECKING:
    import numpy as np

_COMPARISONS = ("Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Equal")


def _aliases(graph: GraphProto, name: str) -> set[str]:
    """``name`` and the tensors that only pass it on (Identity, Cast, Reshape …), in any scope."""
    found = {name}
    for node, _parent in iter_nodes(graph):
        if node.op_type in SEE_THROUGH_OPS and node.input and node.input[0] in found:
            found.update(node.output)
    return found


def default_values(model: LoadedModel, input_name: str) -> list[tuple[object, str]]:
    """Values the model itself suggests for a switch input, with where each came from.

    The metadata may name a default; a comparison against a constant (``ratio < 1``) marks the
    value at which the model takes its plain path; otherwise the neutral value of the dtype.
    """
    tensor = input_info(model, input_name)
    found: list[tuple[object, str]] = []
    for prop in model.proto.metadata_props:
        if prop.key == input_name:
            found.append((prop.value, f"the model's metadata ({prop.key} = {prop.value})"))
    for threshold, node in _thresholds(model, tensor):
        found.append((threshold, f"the model's own threshold: {node.op_type} '{node_label(node)}' compares it "
                                 f"with {threshold}"))
    neutral = {"bool": [False, True]}.get(tensor.dtype, [1] if tensor.dtype.startswith(("int", "uint")) else [1.0])
    found += [(value, f"the neutral value for {tensor.dtype}") for value in neutral]
    unique: list[tuple[object, str]] = []
    seen = set()
    for value, source in found:
        if str(value) not in seen:
            seen.add(str(value))
            unique.append((value, source))
    return unique


def _thresholds(model: LoadedModel, tensor: TensorInfo) -> list[tuple[float, NodeProto]]:
    """(constant, comparison node) for each comparison of the input ``tensor`` with a constant."""
    constants = ConstantValues(model.proto)
    aliases = _aliases(model.proto.graph, tensor.name)
    integral = tensor.dtype.startswith(("int", "uint"))
    found: list[tuple[float, NodeProto]] = []
    for node, _parent in iter_nodes(model.proto.graph):
        if node.op_type in _COMPARISONS and aliases & set(node.input):
            for other in node.input:
                value = constants.scalar(other) if other not in aliases else None
                if value is None:
                    continue
                if integral and float(value).is_integer():  # compared after a Cast to float
                    value = int(value)
                found.append((value, node))
    return found


def other_branch_values(model: LoadedModel, input_name: str) -> list[tuple[object, str]]:
    """Values just either side of each threshold the model compares a switch input with: the deployment value
    (``default_values``) runs one branch; one of these runs the other (which side depends on the comparison)."""
    tensor = input_info(model, input_name)
    if tensor.dtype == "bool":  # a bool condition has no threshold: its other value runs the other branch
        deployed = bool(default_values(model, input_name)[0][0])
        return [(not deployed, f"the other value of the bool switch '{input_name}'")]
    integral = tensor.dtype.startswith(("int", "uint"))
    found: list[tuple[object, str]] = []
    seen = set()
    for value, node in _thresholds(model, tensor):
        candidates: tuple[float, float]
        if integral:
            candidates = (value + 1, value - 1)
        else:
            candidates = (value / 2, value * 2) if value > 0 else (value - 1.0, value + 1.0)
        for candidate in candidates:
            if str(candidate) not in seen:
                seen.add(str(candidate))
                found.append((candidate, f"beside the threshold {value} of {node.op_type} '{node_label(node)}'"))
    return found


def frozen_array(model: LoadedModel, input_name: str, value) -> np.ndarray:
    """The array input ``input_name`` is frozen at for ``value`` (one value, or one per element), or a clear error
    when the value does not fit the input's dtype or shape."""
    import numpy as np

    tensor = input_info(model, input_name)
    values = value if isinstance(value, list) else [value]
    dtype = np.dtype(tensor.dtype) if tensor.dtype not in ("bfloat16", "undefined") else np.dtype(np.float32)
    if dtype.kind == "b" and not all(isinstance(v, bool) or v in (0, 1) for v in values):
        raise WorkbenchError(f"Input '{tensor.name}' is bool; {value!r} is not true/false.", "Use true or false.")
    if dtype.kind in "iu" and not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise WorkbenchError(f"Input '{tensor.name}' is {tensor.dtype}; {value!r} is not an integer value.",
                             "Give whole numbers for integer inputs.")
    if dtype.kind in "iu" and any(not np.can_cast(np.min_scalar_type(v), dtype) for v in values):
        raise WorkbenchError(f"{value!r} does not fit input '{tensor.name}' ({tensor.dtype}).", "Give a smaller value.")
    shape = tensor.fixed_shape
    if shape is None:
        if tensor.shape is not None and len(tensor.shape) == 1 and isinstance(value, list):
            return np.array(values, dtype=dtype)
        raise WorkbenchError(f"Input '{tensor.name}' {tensor.shape_text()} has no fixed shape, so its value cannot "
                             "be frozen.", "Apply set-input-shape first, or give a 1-D list for a 1-D input.")
    if len(values) == 1:
        return np.full(shape, values[0], dtype=dtype)
    if len(values) != math.prod(shape):
        raise WorkbenchError(f"Input '{tensor.name}' has shape {tensor.shape_text()} ({math.prod(shape)} values); "
                             f"{len(values)} values were given.", "Give one value, or one per element.")
    return np.array(values, dtype=dtype).reshape(shape)
