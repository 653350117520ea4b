"""What each graph input is, and which values it may take: one place that every input maker asks.

Random data is only as good as its values. A BERT encoder's ``token_type_ids`` index a table of two rows: any
other value fails in Gather, so a shape probe, a parity check or ``compare`` fed 0..8 fails on a healthy model.
A merged decoder's bool ``use_cache_branch`` picks one of two subgraphs: feeding one value leaves the other
unchecked. So each graph input gets a role (``InputRole``) and, where the graph bounds them, its valid values,
with the reason in words:

- **the graph first**: what consumes the input — a Gather on a constant table (its rows bound the values), an
  ``If`` it decides, a Concat that appends new keys to it on the sequence axis (a KV cache), a use as 0/1 (a cast
  to bool, ``1 − mask``, a Where), the initial state of a GRU/LSTM, a Sin/Cos it reaches (a timestep, rotary
  positions, point coordinates), the Conv it feeds (an image, a latent, mel features, a waveform), a
  cross-attention MatMul that reads its projection against another input's queries (encoder states);
- **its name second**, where the graph says nothing (``attention_mask``, ``past_key_values.0.key``, …);
- otherwise ``OTHER``: nothing in the graph or the name says what it is.

The model may be weight-free: tables are measured by their shape (``ConstantValues.shape``), never loaded.
"""

from __future__ import annotations

import math
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.loading import LoadedModel, TensorInfo, iter_nodes, node_attribute, node_label
from workbench.core.model.protos import GraphProto, NodeProto, TensorProto

if TYPE_CHECKING:
    import numpy as np


class InputRole(str, Enum):
    """What a graph input is; the values are the words shown to users."""

    IMAGE = "image"
    LATENT = "latent"
    TOKEN_IDS = "token ids"
    ATTENTION_MASK = "attention mask"
    POSITION_IDS = "position ids"
    TOKEN_TYPE_IDS = "token type ids"
    KV_CACHE = "KV cache"
    ENCODER_STATES = "encoder states"
    AUDIO_FEATURES = "audio features"
    AUDIO = "audio"
    COORDINATES = "coordinates"
    POINT_LABELS = "point labels"
    PER_BATCH_SCALAR = "per-batch scalar"
    SWITCH = "switch"
    STATE = "state"
    MASK = "mask"
    OTHER = "other"


@dataclass(frozen=True)
class InputMeaning:
    """One graph input's role, why, and the values it takes where the graph bounds them."""

    name: str
    role: InputRole
    reason: str
    low: float | None = None  # inclusive range of valid values, when the graph (or a stated convention) bounds it
    high: float | None = None
    table: str = ""  # the node that bounds it (e.g. "Gather '/embeddings/token_type_embeddings/Gather'")
    past_axis: int | None = None  # a self-attention KV cache's axis holding the tokens cached so far

    def to_dict(self) -> dict:
        data = {"name": self.name, "role": self.role.value, "reason": self.reason, "low": self.low,
                "high": self.high, "table": self.table}
        if self.past_axis is not None:
            data["past_axis"] = self.past_axis
        return data


# Inputs this small can be run-time switches (a ratio, a flag, a sample rate).
_SWITCH_MAX_ELEMENTS = 4
# (op, input positions) whose value decides structure: branch taken, loop count, output size.
_STEERING_INPUTS = {"If": {0}, "Loop": {0, 1}, "Resize": {1, 2, 3}, "Upsample": {1}, "Reshape": {1},
                    "Expand": {1}, "Tile": {1}, "Slice": {1, 2, 3, 4}, "Range": {0, 1, 2}, "ConstantOfShape": {0},
                    "TopK": {1}, "Pad": {1}}
# Ops whose output depends on their input's shape only, never its values: a value does not flow through them.
_SHAPE_ONLY = {"Shape", "Size"}
_RECURRENT_STATE_INPUTS = {"GRU": (5,), "RNN": (5,), "LSTM": (5, 6)}
_GATHERS = {"Gather", "GatherElements", "GatherND"}
# Ops an index passes through unchanged in value (it may be reshaped, repeated, sliced or joined with others).
_INDEX_THROUGH = {"Cast", "Unsqueeze", "Squeeze", "Reshape", "Identity", "Flatten", "Expand", "Slice", "Transpose",
                  "Tile", "Concat"}
# Ops a 0/1 mask passes through on its way to its use (Gather reads it as data, position 0).
_MASK_THROUGH = _INDEX_THROUGH | {"Gather"}
_STATE_THROUGH = {"Slice", "Gather", "Squeeze", "Unsqueeze", "Identity", "Cast", "Split", "Reshape", "Transpose"}
# Between an image / latent / signal input and its first Conv: normalisation, casts, layout, joining channels.
_PREPROCESSING = {"Cast", "Sub", "Div", "Mul", "Add", "Transpose", "Identity", "Unsqueeze", "Concat", "Pad"}
# Between an input and the attention product that reads its keys/values: projections, bias, heads, scaling.
# (Gather/GatherND read it as data: SAM repeats its image embeddings per prompt.)
_PROJECTION = {"MatMul", "Gemm", "Add", "Reshape", "Transpose", "Mul", "Div", "Cast", "Unsqueeze", "Squeeze",
               "Split", "Slice", "Concat", "Identity", "Expand", "Flatten", "Tile", "Gather", "GatherND"}
_ATTENTION_DEPTH = 14  # SAM: repeat, flatten, transpose, add the positional encoding, project, split heads
_BIG_MASK_FILL = 1e4  # (1 − mask) × −10000 (or the dtype's minimum): masked scores vanish in the softmax
_MEL_BINS = {40, 64, 80, 128}  # the mel filter banks speech models use (Whisper: 80, large-v3: 128)
_DEPTH = 6
_SIN_DEPTH = 10  # SAM's points reach Sin after a shift, a normalisation and a projection

_KV_NAME = re.compile(r"(past_key_values|past_key|past_value|^past[._]|(^|[._])cache)", re.IGNORECASE)
_CROSS_NAME = re.compile(r"(encoder|cross)", re.IGNORECASE)
_PAST_DIM = re.compile(r"past|cache", re.IGNORECASE)
_ATTENTION_MASK_NAME = re.compile(r"attention_?mask|attn_?mask|padding_?mask", re.IGNORECASE)
_MASK_NAME = re.compile(r"mask", re.IGNORECASE)
_TOKEN_TYPE_NAME = re.compile(r"token_?type|segment", re.IGNORECASE)
_POSITION_NAME = re.compile(r"position|pos_?ids|(^|[^a-z])wpe([^a-z]|$)|pos_?emb", re.IGNORECASE)
_TOKEN_NAME = re.compile(r"input_ids|token|word|(^|[^a-z])wte([^a-z]|$)|embed_tokens|vocab", re.IGNORECASE)
_ENCODER_NAME = re.compile(r"hidden_states|encoder|text_embeds?|context|conditioning", re.IGNORECASE)
_COORDINATE_NAME = re.compile(r"point|coord|box", re.IGNORECASE)
_LABEL_NAME = re.compile(r"label", re.IGNORECASE)
_TIMESTEP_NAME = re.compile(r"timestep|^t$|time_?step|^time$|sigma", re.IGNORECASE)
_LATENT_NAME = re.compile(r"latent|sample", re.IGNORECASE)
_IMAGE_NAME = re.compile(r"image|pixel|img|^input|^x$", re.IGNORECASE)
_AUDIO_NAME = re.compile(r"input_values|wav|audio|speech|pcm|samples", re.IGNORECASE)
_AUDIO_FEATURES_NAME = re.compile(r"input_features|mel|fbank|spectrogram", re.IGNORECASE)
_STATE_NAME = re.compile(r"state|^h0$|^c0$|^h_0$|^c_0$|memory", re.IGNORECASE)

Key = tuple[int, str]  # (id of the graph that defines the tensor, its name)


def steered_nodes(graph: GraphProto, inputs: list[TensorInfo]) -> dict[str, list[str]]:
    """Small inputs that decide the graph's structure → the nodes they steer (nested bodies included): the
    switches (``InputRole.SWITCH``) that freeze-input offers to bake in and that ``compare`` runs on every
    branch. A value flows through every op but Shape/Size (they carry the shape, not the value)."""
    found: dict[str, list[str]] = {}
    nested_by_parent: dict[str, list[NodeProto]] = {}
    for node, parent in iter_nodes(graph):
        if parent:
            nested_by_parent.setdefault(parent, []).append(node)
    for tensor in inputs:
        fixed_dims = [d for d in tensor.shape or () if isinstance(d, int)]
        if tensor.shape is None or len(fixed_dims) < len(tensor.shape) or math.prod(fixed_dims) > _SWITCH_MAX_ELEMENTS:
            continue
        reached = {tensor.name}
        steered: list[str] = []
        for node in graph.node:
            nested = nested_by_parent.get(node.name, []) if node.name else []
            positions = _STEERING_INPUTS.get(node.op_type, set())
            if any(name in reached and i in positions for i, name in enumerate(node.input)) or \
                    any(name in reached for child in nested for name in child.input):
                steered.append(node_label(node))
                steered.extend(node_label(child) for child in nested)
            if node.op_type not in _SHAPE_ONLY and any(name in reached for name in node.input):
                reached.update(node.output)
        if steered:
            found[tensor.name] = steered
    return found


_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def input_meanings(model: LoadedModel) -> dict[str, InputMeaning]:
    """The meaning of every graph input, in input order (cached per model: a ``LoadedModel`` does not change)."""
    found = _cache.get(model)
    if found is None:
        graph = _Graph(model)
        found = _cache[model] = {tensor.name: _meaning(graph, tensor) for tensor in graph.inputs}
    return found


def past_length(meanings: dict[str, InputMeaning], shapes: dict[str, tuple[int, ...]],
                sequence: int) -> tuple[int, str]:
    """(tokens cached before this step, why) at these input shapes: the attention mask covers the cached and the
    ``sequence`` new tokens; else a self-attention KV cache holds them on its past axis; else none."""
    for name, meaning in meanings.items():
        shape = shapes.get(name, ())
        if meaning.role is InputRole.ATTENTION_MASK and len(shape) == 2 and shape[-1] >= sequence:
            return shape[-1] - sequence, f"'{name}' covers {shape[-1]} tokens, {sequence} of them new"
    for name, meaning in meanings.items():
        shape = shapes.get(name, ())
        if meaning.role is InputRole.KV_CACHE and meaning.past_axis is not None and len(shape) > meaning.past_axis:
            return shape[meaning.past_axis], f"'{name}' caches {shape[meaning.past_axis]} tokens"
    return 0, "nothing cached"


def position_values(shape: tuple[int, ...], past: int, high: float | None, dtype) -> np.ndarray:
    """Position ids of a step after ``past`` cached tokens: ``past + arange(sequence)`` in every row, kept inside
    the table's rows."""
    import numpy as np

    sequence = shape[-1] if shape else 1
    row = np.arange(past, past + sequence)
    if high is not None:
        row = np.minimum(row, int(high))
    return np.broadcast_to(row, shape).astype(dtype)


class _Graph:
    """What the rules ask of the model: the readers of each tensor, nested If/Loop bodies included (a merged
    decoder reads every input inside its branches), constants and their shapes, the switches.

    A tensor is keyed by (scope, name): sibling branches may reuse a name for different tensors (Optimum's
    merged decoder does), so a name read in a body means the innermost scope that defines it."""

    def __init__(self, model: LoadedModel):
        self.inputs = model.summary().inputs
        self.top_level = {node_label(node): node.op_type for node in model.proto.graph.node}
        self.readers: dict[Key, list[tuple[NodeProto, int]]] = {}
        self.input_keys: dict[int, list[Key]] = {}  # id(node) → the tensors its inputs are
        self._captures: dict[int, set[Key]] = {}  # id(If/Loop node) → the outer tensors its bodies read
        self._producers: dict[Key, NodeProto] = {}
        self._scope: dict[int, int] = {}  # id(node) → id(the graph it sits in)
        self._root = id(model.proto.graph)
        self._index(model.proto.graph, [])
        self.constants = ConstantValues(model.proto)
        self.switches = steered_nodes(model.proto.graph, self.inputs)

    def _index(self, graph: GraphProto, outer: list[tuple[int, set[str]]]) -> set[Key]:
        """Index ``graph`` and its bodies; returns the tensors of outer scopes it reads."""
        defined = {v.name for v in graph.input} | {t.name for t in graph.initializer} | \
            {output for node in graph.node for output in node.output}
        scopes = [(id(graph), defined), *outer]
        external: set[Key] = set()
        for node in graph.node:
            self._scope[id(node)] = id(graph)
            keys = self.input_keys[id(node)] = []
            for position, name in enumerate(node.input):
                key = (next((scope for scope, names in scopes if name in names), self._root), name)
                keys.append(key)
                if name:
                    self.readers.setdefault(key, []).append((node, position))
            captured: set[Key] = set()
            for attr in node.attribute:
                for body in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
                    captured |= self._index(body, scopes)
            if captured:
                self._captures[id(node)] = captured
            external |= {key for key in [*keys, *captured] if key[0] != id(graph)}
            for output in self.outputs(node):
                self._producers[output] = node
        return external

    def key(self, name: str) -> Key:
        """A graph input's (or any top-level tensor's) key."""
        return self._root, name

    def outputs(self, node: NodeProto) -> list[Key]:
        return [(self._scope[id(node)], output) for output in node.output if output]

    def walk(self, start: Key, follow: Callable[[NodeProto, int], bool],
             depth: int = _DEPTH) -> Iterator[tuple[NodeProto, int]]:
        """(node, input position) of every reader of ``start`` and of what it becomes through the readers
        ``follow`` accepts, nearest first, up to ``depth`` nodes away."""
        frontier, seen = [start], set()
        for _ in range(depth):
            following = []
            for tensor in frontier:
                for node, position in self.readers.get(tensor, []):
                    if (id(node), position) in seen:
                        continue
                    seen.add((id(node), position))
                    yield node, position
                    if follow(node, position):
                        following.extend(self.outputs(node))
            frontier = following

    def depends_on(self, tensor: Key, start: Key) -> bool:
        """Whether the value of ``tensor`` depends on ``start`` (searched backwards: an attention's queries come
        from a few nodes, the whole graph may come after them)."""
        pending, seen = [tensor], set()
        while pending:
            key = pending.pop()
            if key == start:
                return True
            node = self._producers.get(key)
            if key in seen or node is None or node.op_type in _SHAPE_ONLY:
                continue
            seen.add(key)
            pending.extend(self.input_keys[id(node)])
            pending.extend(self._captures.get(id(node), ()))
        return False

    def scalar(self, name: str) -> float | None:
        value = self.constants.scalar(name) if name in self.constants else None
        return float(value) if isinstance(value, (int, float, bool)) else None  # ``scalar`` gives Python values

    def conv_reached(self, name: str) -> NodeProto | None:
        """The Conv the input reaches first through its preprocessing ((x − mean) / std, casts, layout)."""
        for node, position in self.walk(self.key(name), lambda n, _p: n.op_type in _PREPROCESSING):
            if node.op_type == "Conv" and position == 0:
                return node
        return None




def _is_int(tensor: TensorInfo) -> bool:
    return tensor.dtype.startswith(("int", "uint"))


def is_float(tensor: TensorInfo) -> bool:
    return tensor.dtype.startswith(("float", "bfloat"))


def float_shape_tensor_text(name: str, tensor: TensorInfo) -> str:
    """What a float input that TensorRT takes as a shape tensor is, and why a profile cannot give it values.

    The model computes sizes from it, so TensorRT's parser marks it a shape tensor; but shape tensors must be int32 or
    int64 (the parser says so when it meets one) and an optimization profile's values are whole numbers."""
    return (f"'{name}' ({tensor.dtype}) holds a float value such as 0.25, not a shape; the model computes sizes from "
            "it, so TensorRT takes it as a shape tensor, and shape tensors must be whole numbers: no optimization "
            "profile can give it a range")


FREEZE_FLOAT_SHAPE_TENSOR = "freeze it to the value you deploy with (the freeze-input fix, offered in the Triage list)"


def _static(shape, axis: int) -> int | None:
    return shape[axis] if -len(shape) <= axis < len(shape) and isinstance(shape[axis], int) and shape[axis] > 0 \
        else None


def _meaning(graph: _Graph, tensor: TensorInfo) -> InputMeaning:
    for rule in _GRAPH_RULES:
        found = rule(graph, tensor)
        if found is not None:
            return found
    return _by_name(graph, tensor) or InputMeaning(tensor.name, InputRole.OTHER,
                                                   "nothing in the graph or its name says what it is")


# --- what the graph says -----------------------------------------------------------------------------------

def _switch(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    steered = graph.switches.get(tensor.name)
    if steered is None:
        return None
    outer = [label for label in steered if label in graph.top_level]  # not the nodes inside the branches
    nodes = ", ".join(f"{graph.top_level[label]} '{label}'" for label in outer[:2]) + (" …" if len(outer) > 2 else "")
    if tensor.dtype == "bool":
        return InputMeaning(tensor.name, InputRole.SWITCH, f"a switch: it decides which branch runs ({nodes}); "
                                                           "both values are real paths", 0, 1)
    return InputMeaning(tensor.name, InputRole.SWITCH, f"a switch: its value decides the graph's structure ({nodes})")


def _kv_cache(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """A cache the step's new keys/values are appended to (Concat on the sequence axis) before attention reads it."""
    rank = len(tensor.shape or ())
    if rank not in (3, 4) or not is_float(tensor):
        return None
    for node, position in graph.walk(graph.key(tensor.name), lambda n, _p: n.op_type in ("Cast", "Identity"), 3):
        if node.op_type != "Concat" or position != 0:
            continue
        axis = int(node_attribute(node, "axis", 0)) % rank
        attends = any(reader.op_type in ("MatMul", "Einsum") for reader, _p in
                      graph.walk(graph.outputs(node)[0], lambda n, _p: n.op_type not in _SHAPE_ONLY))
        if axis == rank - 2 and attends:
            return InputMeaning(tensor.name, InputRole.KV_CACHE,
                                f"a KV cache: Concat '{node_label(node)}' appends the new tokens' keys/values on axis "
                                f"{axis}, which attention reads", past_axis=axis)
    return None


def _recurrent_state(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    for node, position in graph.walk(graph.key(tensor.name), lambda n, p: n.op_type in _STATE_THROUGH and p == 0, 5):
        if position in _RECURRENT_STATE_INPUTS.get(node.op_type, ()):
            return InputMeaning(tensor.name, InputRole.STATE,
                                f"the initial state of {node.op_type} '{node_label(node)}'")
    return None


def _table_rows(graph: _Graph, node: NodeProto) -> int | None:
    """Rows an index into ``node`` (a Gather on a constant table) may address, read from the table's shape."""
    shape = graph.constants.shape(node.input[0])
    if not shape:
        return None
    axis = int(node_attribute(node, "batch_dims" if node.op_type == "GatherND" else "axis", 0))
    return int(shape[axis % len(shape)]) if -len(shape) <= axis < len(shape) else None


def _indexes_table(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """An integer input used as the indices of a Gather on a constant table: valid values are its rows (shifted by
    a constant it is added to on the way, like OPT's position offset). Every table it indexes must accept them."""
    if not _is_int(tensor):
        return None
    low, high, bound = 0, None, None
    frontier, seen = [(graph.key(tensor.name), 0)], set()
    for _ in range(_DEPTH):
        following: list[tuple[Key, int]] = []
        for name, offset in frontier:
            for node, position in graph.readers.get(name, []):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                if node.op_type in _GATHERS and position == 1 and node.input[0] in graph.constants:
                    rows = _table_rows(graph, node)
                    if rows is None or rows - 1 - offset < max(0, -offset):
                        continue
                    low = max(low, -offset)
                    if high is None or rows - 1 - offset < high:
                        high, bound = rows - 1 - offset, (node, rows, offset)
                elif node.op_type in _INDEX_THROUGH and (position == 0 or node.op_type == "Concat"):
                    following.extend((output, offset) for output in graph.outputs(node))
                elif node.op_type in ("Add", "Sub") and len(node.input) == 2:
                    shift = graph.scalar(node.input[1 - position])
                    if shift is None or not float(shift).is_integer() or (node.op_type == "Sub" and position == 1):
                        continue
                    shift = int(shift) if node.op_type == "Add" else -int(shift)
                    following.append((graph.outputs(node)[0], offset + shift))
        frontier = following
    if bound is None:
        return None
    node, rows, offset = bound
    table = f"{node.op_type} '{node_label(node)}'"
    # The table's name (graph evidence) says what indexes it, else the input's name, else its shape.
    role, assumed = _id_role(f"{node_label(node)} {node.input[0]}") or _id_role(tensor.name), ""
    if role is None and len(tensor.shape or ()) == 2:
        role, assumed = InputRole.TOKEN_IDS, " (integer [batch, sequence] ids into a table: token ids)"
    role = role or InputRole.OTHER
    what = role.value if role is not InputRole.OTHER else "values"
    shifted = f" after adding {offset}" if offset else ""
    return InputMeaning(tensor.name, role, f"{what} in [{low}, {high}]: {table} indexes a {rows}-row table{shifted}"
                                           f"{assumed}", low, high, table)


def _id_role(text: str) -> InputRole | None:
    for role, pattern in ((InputRole.TOKEN_TYPE_IDS, _TOKEN_TYPE_NAME), (InputRole.POSITION_IDS, _POSITION_NAME),
                          (InputRole.TOKEN_IDS, _TOKEN_NAME)):
        if pattern.search(text):
            return role
    return None


def _compared_values(graph: _Graph, tensor: TensorInfo) -> list[float]:
    """The constants Equal nodes compare the input with (on its way through reshapes, casts and joins)."""
    found = set()
    for node, position in graph.walk(graph.key(tensor.name), lambda n, p: n.op_type in _MASK_THROUGH and
                                     (p == 0 or n.op_type == "Concat") and not _casts_to_bool(n)):
        if node.op_type == "Equal":
            value = graph.scalar(node.input[1 - position])
            if value is not None:
                found.add(value)
    return sorted(found)


def _casts_to_bool(node: NodeProto) -> bool:
    return node.op_type == "Cast" and node_attribute(node, "to") == TensorProto.BOOL


def _mask_use(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """An integer/bool input used as 0/1: cast to bool, combined by And/Or/Not, a Where's condition, ``1 − x``,
    scaled by a huge fill (``x × −10000``) or compared with 0/1 only: an attention mask."""
    if not (_is_int(tensor) or tensor.dtype == "bool"):
        return None
    compared = _compared_values(graph, tensor)
    if compared and not set(compared) <= {0.0, 1.0}:
        return None  # compared with other values: categories (point labels), not a mask
    for node, position in graph.walk(graph.key(tensor.name), lambda n, p: n.op_type in _MASK_THROUGH and
                                     (p == 0 or n.op_type == "Concat") and not _casts_to_bool(n), 10):
        use = _zero_one_use(graph, node, position)
        if use:
            return InputMeaning(tensor.name, InputRole.ATTENTION_MASK,
                                f"an attention mask, used as 0/1 ({use}); all ones: no padding (zeros would mark "
                                "padded tokens)", 1, 1)
    if compared:
        return InputMeaning(tensor.name, InputRole.ATTENTION_MASK,
                            f"an attention mask: Equal compares it with {_values_text(compared)}; all ones: no "
                            "padding", 1, 1)
    return None


def _zero_one_use(graph: _Graph, node: NodeProto, position: int) -> str:
    label = f"{node.op_type} '{node_label(node)}'"
    if _casts_to_bool(node):
        return f"{label} makes it bool"
    if node.op_type in ("And", "Or", "Xor", "Not"):
        return f"{label} combines it as a bool"
    if node.op_type == "Where" and position == 0:
        return f"{label} selects by it"
    if node.op_type == "Sub" and position == 1 and graph.scalar(node.input[0]) == 1.0:
        return f"{label} computes 1 − it"
    if node.op_type == "Mul" and abs(graph.scalar(node.input[1 - position]) or 0.0) >= _BIG_MASK_FILL:
        return f"{label} scales it by {graph.scalar(node.input[1 - position]):.3g}"
    return ""


def _values_text(values: list[float]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _point_labels(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """One category per point of a coordinates input (its shape without the last axis), told apart by Equal
    nodes (SAM: 1 foreground, 0 background, −1 / −10 padding), or named so."""
    if not (_is_int(tensor) or is_float(tensor)) or tensor.shape is None:
        return None
    points = next((t for t in graph.inputs if t is not tensor and t.shape is not None and _coordinate_shape(t)
                   and tuple(t.shape[:-1]) == tuple(tensor.shape)), None)
    compared = _compared_values(graph, tensor) if points is not None else []
    if points is None or (len(compared) < 2 and not _LABEL_NAME.search(tensor.name)):
        return None
    low: float
    high: float
    if {0.0, 1.0} <= set(compared) or not compared:
        low, high = 0, 1
    else:
        low, high = min(compared), max(compared)
    source = f"Equal compares it with {_values_text(compared)}" if compared else \
        f"named '{tensor.name}'; nothing compares it"
    return InputMeaning(tensor.name, InputRole.POINT_LABELS,
                        f"labels of the points in '{points.name}' ({source}); drawn from {low:g} (background) to "
                        f"{high:g} (foreground)", low, high)


def _coordinate_shape(tensor: TensorInfo) -> bool:
    shape = tensor.shape or ()
    return is_float(tensor) and len(shape) >= 2 and _static(shape, -1) in (2, 4)


def _sinusoidal(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """Values embedded by Sin/Cos: a per-batch timestep, rotary position ids, Fourier features of coordinates."""
    shape = tensor.shape or ()
    rank = len(shape)
    if rank <= 1 and (_is_int(tensor) or is_float(tensor)):
        role = InputRole.PER_BATCH_SCALAR
    elif rank >= 2 and _is_int(tensor):
        role = InputRole.POSITION_IDS
    elif _coordinate_shape(tensor):
        role = InputRole.COORDINATES
    else:
        return None
    node = next((n for n, _p in graph.walk(graph.key(tensor.name), lambda n, _p: n.op_type not in _SHAPE_ONLY,
                                           _SIN_DEPTH)
                 if n.op_type in ("Sin", "Cos")), None)
    if node is None:
        return None
    label = f"{node.op_type} '{node_label(node)}'"
    if role is InputRole.PER_BATCH_SCALAR:
        return InputMeaning(tensor.name, role, f"one value per batch item, embedded by {label} (a diffusion timestep)")
    if role is InputRole.POSITION_IDS:
        return InputMeaning(tensor.name, role, f"position ids: {label} embeds them (rotary positions)", 0)
    return InputMeaning(tensor.name, role, f"coordinates [..., {shape[-1]}]: {label} embeds them (Fourier "
                                           "features)")


def _conv_input(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """What a Conv reads: an image (1 or 3 channels), a latent (4, named so), mel features (40–128 bins over
    frames) or a waveform (one channel of samples)."""
    shape = tensor.shape or ()
    if len(shape) not in (2, 3, 4) or not (is_float(tensor) or (_is_int(tensor) and len(shape) == 4)):
        return None
    conv = graph.conv_reached(tensor.name)
    weight = graph.constants.shape(conv.input[1]) if conv is not None and len(conv.input) > 1 else None
    if conv is None or not weight or len(weight) < 3:
        return None
    label = f"Conv '{node_label(conv)}'"
    channels = int(weight[1]) * int(node_attribute(conv, "group", 1))
    if len(shape) == 4 and len(weight) == 4:
        if _MASK_NAME.search(tensor.name):
            return InputMeaning(tensor.name, InputRole.MASK, f"a mask named '{tensor.name}', read by {label}")
        nhwc = _static(shape, 3) in (1, 3, 4) and _static(shape, 1) not in (1, 3, 4)
        declared = _static(shape, 3 if nhwc else 1) or channels
        if declared == 4 and _LATENT_NAME.search(tensor.name):
            return InputMeaning(tensor.name, InputRole.LATENT, f"a latent [batch, 4, H, W] named '{tensor.name}', "
                                                               f"read by {label}")
        if declared in (1, 3):
            layout = "[batch, H, W, channels]" if nhwc else "[batch, channels, H, W]"
            reason = f"an image {layout} with {declared} channel(s), read by {label}"
            if _is_int(tensor):
                return InputMeaning(tensor.name, InputRole.IMAGE, f"{reason}; 8-bit pixel values", 0, 255)
            return InputMeaning(tensor.name, InputRole.IMAGE, reason)
        return None
    if len(weight) != 3:
        return None
    if channels == 1:
        return InputMeaning(tensor.name, InputRole.AUDIO, f"a waveform: {label} reads its samples as one channel")
    if len(shape) == 3 and _static(shape, 1) == channels and (channels in _MEL_BINS or
                                                                _AUDIO_FEATURES_NAME.search(tensor.name)):
        return InputMeaning(tensor.name, InputRole.AUDIO_FEATURES,
                            f"audio features [batch, {channels} mel bins, frames], read by {label}")
    return None


def _cross_attention(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    """What another input's queries attend to: the input (or its projection) meets, in a MatMul, a tensor that
    does not depend on it. Projected first by a weight: encoder states (a decoder reading its encoder, a UNet its
    text embeddings, SAM's prompt tokens its image embeddings [batch, channels, H, W]); attended as they are:
    a cross-attention KV cache (keys/values projected once, by the step that filled the cache)."""
    rank = len(tensor.shape or ())
    if rank not in (3, 4) or not is_float(tensor):
        return None
    frontier, seen = [(graph.key(tensor.name), False)], set()
    for _ in range(_ATTENTION_DEPTH):
        following: list[tuple[Key, bool]] = []
        for name, projected in frontier:
            for node, position in graph.readers.get(name, []):
                if (id(node), position, projected) in seen:
                    continue
                seen.add((id(node), position, projected))
                if node.op_type in ("MatMul", "Gemm") and position < 2:
                    other = node.input[1 - position]
                    if other in graph.constants:
                        following.extend((output, True) for output in graph.outputs(node))
                        continue
                    other_key = graph.input_keys[id(node)][1 - position]
                    if node.op_type == "MatMul" and not graph.depends_on(other_key, graph.key(tensor.name)):
                        return _attended_meaning(tensor, node, projected)
                elif node.op_type in _PROJECTION and (position == 0 or not node.op_type.startswith("Gather")):
                    following.extend((output, projected) for output in graph.outputs(node))
        frontier = following
    return None


def _attended_meaning(tensor: TensorInfo, node: NodeProto, projected: bool) -> InputMeaning:
    label = f"MatMul '{node_label(node)}'"
    if projected or len(tensor.shape or ()) != 4:
        return InputMeaning(tensor.name, InputRole.ENCODER_STATES, f"encoder states: {label} reads a projection of "
                                                                   "them against queries from another input "
                                                                   "(cross-attention)")
    return InputMeaning(tensor.name, InputRole.KV_CACHE, f"a cross-attention KV cache: {label} attends over it as it "
                                                         "is (keys/values projected once, when the cache was filled)")


_GRAPH_RULES = (_switch, _kv_cache, _recurrent_state, _indexes_table, _point_labels, _mask_use, _sinusoidal,
                _conv_input, _cross_attention)


# --- what the name says, where the graph says nothing ---------------------------------------------------------

def _by_name(graph: _Graph, tensor: TensorInfo) -> InputMeaning | None:
    name, shape = tensor.name, tensor.shape or ()
    rank, named = len(shape), f"named '{tensor.name}'"
    if _MASK_NAME.search(name):
        over_tokens = rank <= 2 or _ATTENTION_MASK_NAME.search(name)
        if over_tokens and (_is_int(tensor) or tensor.dtype == "bool" or rank == 2):
            return InputMeaning(name, InputRole.ATTENTION_MASK, f"an attention mask ({named}); all ones: no padding "
                                                                "(zeros would mark padded tokens)", 1, 1)
        return InputMeaning(name, InputRole.MASK, f"a mask ({named})")
    if rank in (3, 4) and is_float(tensor) and _KV_NAME.search(name):
        if _CROSS_NAME.search(name):
            return InputMeaning(name, InputRole.KV_CACHE, f"a cross-attention KV cache ({named}): the encoder's keys/"
                                                          "values")
        axis = next((a for a, dim in enumerate(shape) if isinstance(dim, str) and _PAST_DIM.search(dim)), rank - 2)
        return InputMeaning(name, InputRole.KV_CACHE, f"a KV cache ({named}); axis {axis} holds the cached tokens",
                            past_axis=axis)
    if _is_int(tensor) and rank >= 1:
        role = _id_role(name)
        if role is InputRole.TOKEN_TYPE_IDS:
            return InputMeaning(name, role, f"token type ids ({named}); nothing in the graph bounds them: 0 and 1 "
                                            "(two segments, BERT's convention)", 0, 1)
        if role is not None:
            return InputMeaning(name, role, f"{role.value} ({named}); nothing in the graph bounds them", 0)
    if rank == 3 and is_float(tensor) and _ENCODER_NAME.search(name):
        return InputMeaning(name, InputRole.ENCODER_STATES, f"encoder states [batch, sequence, features] ({named})")
    if _coordinate_shape(tensor) and _COORDINATE_NAME.search(name):
        return InputMeaning(name, InputRole.COORDINATES, f"coordinates [..., {shape[-1]}] ({named})")
    if rank <= 1 and _TIMESTEP_NAME.search(name):
        return InputMeaning(name, InputRole.PER_BATCH_SCALAR, f"one value per batch item ({named}: a timestep)")
    if rank == 4 and is_float(tensor) and _LATENT_NAME.search(name) and _static(shape, 1) == 4:
        return InputMeaning(name, InputRole.LATENT, f"a latent [batch, 4, H, W] ({named})")
    if rank == 4 and _IMAGE_NAME.search(name) and (_static(shape, 1) in (1, 3) or _static(shape, 3) in (1, 3)):
        return InputMeaning(name, InputRole.IMAGE, f"an image ({named}, with 1 or 3 channels)",
                            *((0, 255) if _is_int(tensor) else ()))
    if rank == 3 and is_float(tensor) and _AUDIO_FEATURES_NAME.search(name):
        return InputMeaning(name, InputRole.AUDIO_FEATURES, f"audio features ({named})")
    if rank == 2 and is_float(tensor) and _AUDIO_NAME.search(name):
        return InputMeaning(name, InputRole.AUDIO, f"a waveform [batch, samples] ({named})")
    if rank == 3 and is_float(tensor) and _STATE_NAME.search(name):
        return InputMeaning(name, InputRole.STATE, f"a recurrent state ({named})")
    return None
