"""What each graph input is, and which values it may take: one place for every input maker.

Random data is only as good as its values. A BERT encoder's ``token_type_ids`` index a table of two rows: any
other value fails in Gather, so a probe, a parity check or ``compare`` fed 0..8 fails on a healthy model. The
graph says what an integer input indexes; the input's meaning follows, with its reason:

- an integer input that reaches the indices of a Gather on a constant table (through casts, reshapes,
  unsqueezes) takes ``[0, rows - 1]`` of that table — token ids, token-type ids, position ids;
- an attention mask (named so) is all ones (the unpadded case; padding is a choice of the caller);
- position ids follow the past: ``past + arange(sequence)`` (a decoder's step after ``past`` cached tokens);
- a bool input that steers an ``If`` is a switch (both values are worth running).

Graph evidence beats names; names decide only where the graph says nothing.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from enum import Enum

import numpy as np
import onnx

from workbench.core.model.loading import LoadedModel

_SEE_THROUGH = {"Cast", "Unsqueeze", "Squeeze", "Reshape", "Identity", "Flatten", "Expand", "Slice", "Clip"}
_MASK_NAME = re.compile(r"(^|_)(attention_)?mask($|_)", re.IGNORECASE)
_POSITION_NAME = re.compile(r"position", re.IGNORECASE)
_TOKEN_TYPE_NAME = re.compile(r"token_type|segment", re.IGNORECASE)
_POINT_LABELS_NAME = re.compile(r"(point|input)_labels?$", re.IGNORECASE)
_POINTS_NAME = re.compile(r"point|coord", re.IGNORECASE)
_DEPTH = 6


class InputRole(str, Enum):
    TOKEN_IDS = "token ids"
    TOKEN_TYPE_IDS = "token type ids"
    POSITION_IDS = "position ids"
    ATTENTION_MASK = "attention mask"
    POINT_LABELS = "point labels"
    SWITCH = "switch"
    OTHER = "other"


@dataclass(frozen=True)
class InputMeaning:
    name: str
    role: InputRole
    reason: str
    low: float | None = None  # inclusive range of valid values, when the graph bounds it
    high: float | None = None
    table: str = ""  # the node that bounds it

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role.value, "reason": self.reason, "low": self.low,
                "high": self.high, "table": self.table}


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def input_meanings(model: LoadedModel) -> dict[str, InputMeaning]:
    """The meaning of every graph input (cached per model: a ``LoadedModel`` does not change)."""
    found = _cache.get(model)
    if found is None:
        found = _cache[model] = _meanings(model)
    return found


def _meanings(model: LoadedModel) -> dict[str, InputMeaning]:
    graph = model.proto.graph
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for position, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node, position))
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    shapes.update({n.output[0]: tuple(n.attribute[0].t.dims) for n in graph.node
                   if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"})
    found = {}
    inputs = model.summary().inputs
    prompted = any(_POINTS_NAME.search(t.name) and t.dtype.startswith("float") for t in inputs)
    for tensor in inputs:
        if prompted and _POINT_LABELS_NAME.search(tensor.name):
            # SAM-style prompts: each point is foreground (1) or background (0); -1 pads, 2/3 mark box corners.
            found[tensor.name] = InputMeaning(tensor.name, InputRole.POINT_LABELS, f"'{tensor.name}' labels the "
                                              "prompt's points: 1 foreground, 0 background", 0, 1)
            continue
        found[tensor.name] = _meaning(tensor.name, tensor.dtype, consumers, shapes)
    return found


def _meaning(name: str, dtype: str, consumers, shapes) -> InputMeaning:
    if dtype == "bool" and _steers_if(name, consumers):
        return InputMeaning(name, InputRole.SWITCH, f"'{name}' is the condition of an If: both branches are real",
                            0, 1)
    if _MASK_NAME.search(name):
        return InputMeaning(name, InputRole.ATTENTION_MASK, f"named '{name}': an attention mask, all ones (no "
                                                            "padding)", 1, 1)
    if not dtype.startswith(("int", "uint")):
        return InputMeaning(name, InputRole.OTHER, "nothing in the graph bounds its values")
    table = _indexed_table(name, consumers, shapes)
    if table is None:
        return InputMeaning(name, InputRole.OTHER, "nothing in the graph bounds its values")
    rows, node = table
    role = InputRole.TOKEN_TYPE_IDS if _TOKEN_TYPE_NAME.search(name) else \
        InputRole.POSITION_IDS if _POSITION_NAME.search(name) else InputRole.TOKEN_IDS
    return InputMeaning(name, role, f"{role.value} in [0, {rows - 1}]: Gather '{node}' indexes a {rows}-row table",
                        0, rows - 1, node)


def _steers_if(name: str, consumers) -> bool:
    frontier = [name]
    for _ in range(_DEPTH):
        following = []
        for tensor in frontier:
            for node, position in consumers.get(tensor, []):
                if node.op_type == "If" and position == 0:
                    return True
                if node.op_type in ("Not", "Cast", "Identity", "Squeeze", "Reshape"):
                    following.extend(node.output)
        frontier = following
    return False


def _indexed_table(name: str, consumers, shapes) -> tuple[int, str] | None:
    """(rows, Gather) of the constant table ``name`` indexes, through see-through ops; the smallest when it
    indexes several (every one must accept the value)."""
    best = None
    frontier, seen = [name], set()
    for _ in range(_DEPTH):
        following = []
        for tensor in frontier:
            for node, position in consumers.get(tensor, []):
                if node.op_type == "Gather" and position == 1 and shapes.get(node.input[0]) and \
                        _axis(node) == 0:
                    rows = int(shapes[node.input[0]][0])
                    if best is None or rows < best[0]:
                        best = (rows, node.name or node.output[0])
                elif node.op_type in _SEE_THROUGH and position == 0 and id(node) not in seen:
                    seen.add(id(node))
                    following.extend(node.output)
        frontier = following
    return best


def _axis(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 0)


def position_values(shape: tuple[int, ...], past: int, high: float | None, dtype) -> np.ndarray:
    """Position ids of a step after ``past`` cached tokens: ``past + arange(sequence)`` in every row, kept inside
    the table's rows."""
    sequence = shape[-1] if shape else 1
    row = np.arange(past, past + sequence)
    if high is not None:
        row = np.minimum(row, int(high))
    return np.broadcast_to(row, shape).astype(dtype)
