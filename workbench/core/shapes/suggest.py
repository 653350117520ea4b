"""Realistic shapes for dynamic dimensions: one service for every place that needs concrete shapes.

A dynamic dimension is never silently 1. ``suggest_shapes`` gives every dynamic dimension of every
input a min/opt/max with the *source* and the *reason* of the value, strongest source first:

1. the user's optimization profile (or the recipe's);
2. shapes of loaded sample data;
3. what the graph itself pins down: dims that share a symbolic name are one variable; the weights a
   dimension meets (a MatMul's K, a Conv's input channels, a GRU/LSTM's hidden size and direction
   count for a recurrent state input); the network's total stride, so spatial sizes are multiples
   of it; metadata entries named after the dimension;
4. the dimension's name (``batch``/``N`` → batch-like; ``height``/``width``; ``seq``/``length``/
   ``time``; ``samples``…) or, when it has none, its position (NCHW/NHWC images, [batch, seq, feat],
   token ids, waveforms);
5. a **probe**: candidate values from a ladder per kind of dimension, run under onnxruntime, keeping
   a *typical* value that runs and gives non-degenerate outputs (not the smallest that runs). When a
   probe fails in a node with a constant shape operand (a Reshape baked at export time), the
   constant's values become the next candidates, so a model that only runs at ``seq = 64`` is found
   and reported as such, with the node.

Batch-like dims are 1 (min = opt = max) by convention and say so. Min and max come from probes too
(min: the smallest ladder value that still runs; max: checked when it is cheap, else equal to opt,
with the reason). Where nothing runs, the suggestion says so and asks instead of guessing.

``probe_profiles`` runs onnxruntime at a profile's min and max shapes: a profile is checked against
the model before any build (no peer does this).
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import onnx

from workbench.core.model.constant_values import ConstantValues
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, TensorInfo
from workbench.core.problems import Problem, ProblemKind, Severity, Stage
from workbench.core.shapes.profiles import Profile, ShapeRange, profile_from_samples
from workbench.core.progress import CancelToken

Shape = tuple[int, ...]


class DimKind(str, Enum):
    BATCH = "batch"
    SPATIAL = "spatial"
    SEQUENCE = "sequence"
    SAMPLES = "samples"
    CHANNELS = "channels"
    OTHER = "other"


class ShapeSource(str, Enum):
    PROFILE = "profile"
    SAMPLES = "sample data"
    GRAPH = "graph"
    METADATA = "metadata"
    CONVENTION = "convention"
    PROBE = "probe"
    UNRESOLVED = "unresolved"


# Candidate values per kind, most typical first: the probe keeps the first that runs and gives
# non-degenerate outputs. Spatial sizes are those of common classifiers (224), OCR/detectors (320,
# 640) and smaller ones for min searches.
LADDERS: dict[DimKind, tuple[int, ...]] = {
    DimKind.BATCH: (1, 2, 4, 8),
    DimKind.SPATIAL: (224, 320, 640, 256, 512, 192, 160, 128, 96, 64, 48, 32, 416, 1024),
    DimKind.SEQUENCE: (128, 64, 256, 512, 32, 16, 1024),
    DimKind.SAMPLES: (16000, 8000, 32000, 4000, 1600, 48000),
    DimKind.CHANNELS: (3, 1, 4, 64, 32, 16, 128),
    DimKind.OTHER: (16000, 128, 64, 512, 256, 32, 16, 1024, 8, 3),
}
# Probing a value of a batch-like dim costs more than trying other dims' values: batch is rarely the cause.
_RANK_WEIGHT = {DimKind.BATCH: 4}
_NAME_KINDS = (
    (DimKind.BATCH, re.compile(r"^(n|b|bs|batch.*|.*_batch|num_images|unk_batch)$")),
    (DimKind.SPATIAL, re.compile(r"^(h|w|.*height.*|.*width.*|img_?h|img_?w|image_size|size)$")),
    (DimKind.SAMPLES, re.compile(r"^(.*samples?.*|wav.*|audio.*)$")),
    (DimKind.SEQUENCE, re.compile(r"^(t|l|s|seq.*|.*sequence.*|.*seq_len.*|.*length.*|len|time.*|frames?|"
                                  r"num_frames|tokens?|num_tokens|steps?|past.*|.*_len)$")),
    (DimKind.CHANNELS, re.compile(r"^(c|ch|channels?|num_channels)$")),
)
_STATE_NAME = re.compile(r"(state|hidden|^h0$|^c0$|^h_0$|^c_0$|cache|memory)", re.IGNORECASE)
_RECURRENT_OPS = {"GRU": (5,), "RNN": (5,), "LSTM": (5, 6)}
_PASS_THROUGH = {"Slice", "Gather", "Squeeze", "Unsqueeze", "Identity", "Cast", "Split", "Reshape", "Transpose"}
_SHAPE_OPERANDS = {"Reshape": 1, "Expand": 1, "Tile": 1, "ConstantOfShape": 0, "Slice": 2, "Split": 1,
                   "Resize": 3, "Range": 1}
_MAX_STRIDE = 64
_LOCKS_GUARD = threading.Lock()
DEFAULT_PROBE_BUDGET_SECONDS = 8.0
MAX_PROBES = 40
# A max larger than opt is only probed when one run there is expected to take at most this long (probe
# time grows with the input volume); larger models leave it to the Profiles panel's check.
_MAX_PROBE_SECONDS = 0.25


@dataclass
class DimSuggestion:
    """One dynamic dimension (or several that share a symbolic name) and the values chosen for it."""

    label: str  # the symbolic name, or "input[axis]" for unnamed dims
    uses: list[tuple[str, int]]  # (input name, axis) of every dim this value applies to
    kind: DimKind
    opt: int = 0
    min: int = 0
    max: int = 0
    source: ShapeSource = ShapeSource.UNRESOLVED
    reason: str = ""
    candidates: list[int] = field(default_factory=list, repr=False)
    multiple_of: int = 1
    runs_only_at: bool = False  # the probe found exactly one value that runs (a size baked at export)
    node: str = ""  # the node that refuses other values, when one does

    @property
    def resolved(self) -> bool:
        return self.source is not ShapeSource.UNRESOLVED

    def text(self) -> str:
        if not self.resolved:
            return f"{self.label} = ? ({self.reason})"
        rng = f" (min {self.min}, max {self.max})" if (self.min, self.max) != (self.opt, self.opt) else ""
        return f"{self.label} = {self.opt}{rng} ({self.source.value}: {self.reason})"

    def to_dict(self) -> dict:
        return {"label": self.label, "uses": [list(u) for u in self.uses], "kind": self.kind.value, "opt": self.opt,
                "min": self.min, "max": self.max, "source": self.source.value, "reason": self.reason,
                "runs_only_at": self.runs_only_at, "text": self.text()}


@dataclass
class InputValue:
    """A value the tool feeds a switch-like input (a sample rate, a ratio), with where it came from."""

    name: str
    value: np.ndarray
    reason: str

    def text(self) -> str:
        return f"{self.name} = {self.value.reshape(-1)[0] if self.value.size == 1 else self.value.tolist()} " \
               f"({self.reason})"


@dataclass
class ProbeRun:
    shapes: dict[str, Shape]
    ok: bool
    degenerate: bool = False
    error: str = ""
    node: str = ""
    seconds: float = 0.0


@dataclass
class ShapeSuggestion:
    inputs: list[TensorInfo]
    dims: list[DimSuggestion] = field(default_factory=list)
    values: dict[str, InputValue] = field(default_factory=dict)
    state_inputs: list[str] = field(default_factory=list)  # recurrent states [layers, batch, hidden]
    probes: list[ProbeRun] = field(default_factory=list)
    probed: bool = False
    unchecked: bool = False  # some values are typical guesses no onnxruntime run has confirmed yet
    note: str = ""  # why probing was skipped or what it could not do
    seconds: float = 0.0

    @property
    def unresolved(self) -> list[DimSuggestion]:
        return [d for d in self.dims if not d.resolved]

    def dim_for(self, name: str, axis: int) -> DimSuggestion | None:
        return next((d for d in self.dims if (name, axis) in d.uses), None)

    def shapes(self, which: str = "opt") -> dict[str, Shape]:
        """Concrete shapes of every input with a known rank; unresolved dims fall back to 1 (stated)."""
        found = {}
        for tensor in self.inputs:
            if tensor.shape is None:
                continue
            dims = []
            for axis, declared in enumerate(tensor.shape):
                if isinstance(declared, int) and declared > 0:
                    dims.append(declared)
                    continue
                dim = self.dim_for(tensor.name, axis)
                dims.append(max(1, getattr(dim, which)) if dim is not None and dim.resolved else 1)
            found[tensor.name] = tuple(dims)
        return found

    def profile(self) -> Profile:
        """min/opt/max for every dynamic input (static inputs need no entry)."""
        low, mid, high = self.shapes("min"), self.shapes("opt"), self.shapes("max")
        return Profile({t.name: ShapeRange(low[t.name], mid[t.name], high[t.name])
                        for t in self.inputs if t.is_dynamic and t.name in mid})

    def fixed_profile(self, which: str = "opt") -> Profile:
        shapes = self.shapes(which)
        return Profile({t.name: ShapeRange.fixed(shapes[t.name]) for t in self.inputs
                        if t.is_dynamic and t.name in shapes})

    def notes(self) -> list[str]:
        return [d.text() for d in self.dims] + [v.text() for v in self.values.values()] + \
            ([self.note] if self.note else [])

    def problems(self) -> list[Problem]:
        """What the suggestion found that the user must know before a build."""
        found = []
        for dim in self.dims:
            inputs = sorted({name for name, _axis in dim.uses})
            if dim.runs_only_at:
                found.append(Problem(
                    kind=ProblemKind.BAKED_SHAPE, severity=Severity.WARNING, stage=Stage.MODEL, inputs=inputs,
                    node=dim.node, message=f"Runs only at {dim.label} = {dim.opt}: {dim.reason}.",
                    hint=f"The export baked this size in although the input says '{dim.label}' is dynamic. "
                         f"Re-export with dynamic shapes traced through (e.g. the dynamo exporter), or build for "
                         f"{dim.label} = {dim.opt} only (set-input-shape)."))
            elif not dim.resolved:
                found.append(Problem(
                    kind=ProblemKind.SHAPE_UNKNOWN, severity=Severity.WARNING, stage=Stage.MODEL, inputs=inputs,
                    message=f"No realistic value found for {dim.label}: {dim.reason}.",
                    hint="Give the shapes in the Profiles panel (or --opt-shapes) or load sample data."))
        return found

    def to_dict(self) -> dict:
        return {"dims": [d.to_dict() for d in self.dims],
                "values": {n: {"value": v.value.tolist(), "reason": v.reason} for n, v in self.values.items()},
                "shapes": {n: list(s) for n, s in self.shapes().items()}, "probed": self.probed,
                "probes": len(self.probes), "note": self.note, "seconds": round(self.seconds, 3),
                "notes": self.notes()}


# --- what the graph says -----------------------------------------------------------------------

def _consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    found: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for position, name in enumerate(node.input):
            if name:
                found.setdefault(name, []).append((node, position))
    return found


def _attr(node: onnx.NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def _recurrent_state(name: str, consumers, depth: int = 5) -> onnx.NodeProto | None:
    """The GRU/LSTM/RNN whose initial state ``name`` feeds (through slicing and reshaping), if any."""
    frontier, seen = [name], set()
    for _ in range(depth):
        following = []
        for tensor in frontier:
            for node, position in consumers.get(tensor, []):
                if position in _RECURRENT_OPS.get(node.op_type, ()):
                    return node
                if node.op_type in _PASS_THROUGH and position == 0 and node.name not in seen:
                    seen.add(node.name)
                    following.extend(node.output)
        frontier = following
    return None


def _direct_weight_dim(name: str, axis: int, rank: int, consumers, constants) -> tuple[int, str] | None:
    """A size the weights a dim meets directly demand: a MatMul/Gemm's K, a Conv's input channels."""
    for node, position in consumers.get(name, []):
        weight = constants.get(node.input[1]) if len(node.input) > 1 else None
        if weight is None:
            continue
        if node.op_type == "MatMul" and position == 0 and axis == rank - 1:
            if weight.ndim >= 2:
                return int(weight.shape[-2]), f"MatMul '{node.name}' multiplies it by a {list(weight.shape)} weight"
        if node.op_type == "Gemm" and position == 0 and axis == 1:
            k = weight.shape[1] if _attr(node, "transB", 0) else weight.shape[0]
            return int(k), f"Gemm '{node.name}' has a {list(weight.shape)} weight"
        if node.op_type == "Conv" and position == 0 and axis == 1:
            return int(weight.shape[1]) * int(_attr(node, "group", 1)), \
                f"Conv '{node.name}' has a {list(weight.shape)} weight"
    return None


def spatial_strides(graph: onnx.GraphProto, input_name: str, constants: ConstantValues) -> tuple[int, int]:
    """The network's total stride along the two spatial axes of ``input_name`` (how much the deepest
    feature map is smaller), so suggested sizes can be multiples of it. Conv/pooling strides multiply,
    ConvTranspose and Resize/Upsample with constant scales divide, other ops pass the largest on."""
    strides: dict[str, tuple[float, float]] = {input_name: (1.0, 1.0)}
    deepest = (1.0, 1.0)
    for node in graph.node:
        known = [strides[n] for n in node.input if n in strides]
        if not known:
            continue
        current = (max(s[0] for s in known), max(s[1] for s in known))
        if node.op_type in ("Conv", "MaxPool", "AveragePool", "LpPool"):
            step = list(_attr(node, "strides", []) or [1, 1])
            if len(step) == 2:
                current = (current[0] * step[0], current[1] * step[1])
        elif node.op_type == "ConvTranspose":
            step = list(_attr(node, "strides", []) or [1, 1])
            if len(step) == 2:
                current = (current[0] / step[0], current[1] / step[1])
        elif node.op_type in ("Resize", "Upsample"):
            scales_name = node.input[2] if node.op_type == "Resize" and len(node.input) > 2 else \
                node.input[1] if node.op_type == "Upsample" and len(node.input) > 1 else ""
            scales = constants.get(scales_name)
            if scales is not None and scales.size == 4 and np.all(scales > 0):
                current = (current[0] / float(scales[2]), current[1] / float(scales[3]))
        elif node.op_type in ("GlobalAveragePool", "GlobalMaxPool", "Flatten"):
            continue  # past the feature maps: sizes no longer matter
        for output in node.output:
            strides[output] = current
        deepest = (max(deepest[0], current[0]), max(deepest[1], current[1]))
    return tuple(int(min(_MAX_STRIDE, 2 ** round(math.log2(max(s, 1.0))))) for s in deepest)


def _kind_from_name(name: str) -> DimKind | None:
    text = re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_")
    for kind, pattern in _NAME_KINDS:
        if pattern.match(text):
            return kind
    return None


def _meaningful_name(name) -> bool:
    """Exporter-generated names (``s0``, ``unk__12``, ``p2o.DynamicDimension.0``, ``?``) say nothing."""
    return isinstance(name, str) and bool(name) and not re.match(
        r"^(\?|s\d+|unk_*\d*|.*dynamicdimension.*|dim_?\d*|[a-z_]*dynamic_axes_\d+|n\d+)$", name.lower())


def _positional_kind(tensor: TensorInfo, axis: int, feeds_conv: bool) -> tuple[DimKind, str]:
    """The dim's kind from where it sits, and that place in words ("H of an NCHW image")."""
    shape = tensor.shape or ()
    rank = len(shape)
    static_small = lambda i: isinstance(shape[i], int) and 0 < shape[i] <= 4  # noqa: E731
    if rank == 4:
        layout = "NHWC" if static_small(3) and not static_small(1) else "NCHW"
        letter = layout[axis]
        kind = {"N": DimKind.BATCH, "C": DimKind.CHANNELS}.get(letter, DimKind.SPATIAL)
        return kind, f"{letter} of an {layout} image"
    if rank >= 2 and axis == 0:
        return DimKind.BATCH, f"axis 0 of a rank-{rank} input"
    if rank == 1:
        return DimKind.BATCH, "the only axis of a 1-D input"
    if rank == 3 and feeds_conv:
        return (DimKind.SAMPLES, "length of [batch, channels, length] fed to a Conv") if axis == 2 else \
            (DimKind.CHANNELS, "channels of [batch, channels, length]")
    if rank == 3:
        return (DimKind.SEQUENCE, "seq of [batch, seq, features]") if axis == 1 else \
            (DimKind.OTHER, f"axis {axis} of [batch, seq, features]")
    if rank == 2 and tensor.dtype.startswith(("int", "uint")):
        return DimKind.SEQUENCE, "seq of integer [batch, seq] (token ids)"
    if rank == 2:
        return DimKind.OTHER, "length of a [batch, length] input"
    return DimKind.OTHER, f"axis {axis} of a rank-{rank} input"


@dataclass
class _Fact:
    value: int
    source: ShapeSource
    reason: str


def _analyse_dims(model: LoadedModel) -> tuple[list[DimSuggestion], dict[str, _Fact], list[str]]:
    """The dynamic dims as variables (shared names merged), their kinds, candidates, and graph facts."""
    graph = model.proto.graph
    constants = ConstantValues(model.proto)
    consumers = _consumers(graph)
    metadata = {p.key.lower(): p.value for p in model.proto.metadata_props}
    variables: dict[str, DimSuggestion] = {}
    facts: dict[str, _Fact] = {}
    states: list[str] = []
    kind_from: dict[str, str] = {}
    for tensor in model.summary().inputs:
        if tensor.shape is None:
            continue
        feeds_conv = any(n.op_type == "Conv" for n, _p in consumers.get(tensor.name, []))
        recurrent = _recurrent_state(tensor.name, consumers) if len(tensor.shape) == 3 else None
        if recurrent is None and len(tensor.shape) == 3 and _STATE_NAME.search(tensor.name):
            recurrent = onnx.NodeProto(op_type="state")
        if recurrent is not None:
            states.append(tensor.name)
        strides = None
        for axis in tensor.dynamic_dims:
            declared = tensor.shape[axis]
            # Dims that share a name are one variable; unnamed ones ('?', onnxruntime's 'unk__N') are each their own.
            label = declared if isinstance(declared, str) and declared and not declared.startswith(("?", "unk")) \
                else f"{tensor.name}[{axis}]"
            key = label
            name_kind = _kind_from_name(declared) if _meaningful_name(declared) else None
            if recurrent is not None:
                kind = DimKind.BATCH if axis == 1 else DimKind.OTHER
                why = f"'{tensor.name}' is a recurrent state [layers, batch, hidden]"
            elif name_kind is not None:
                kind, why = name_kind, f"named '{declared}'"
            else:
                kind, place = _positional_kind(tensor, axis, feeds_conv)
                why = f"{place} '{tensor.name}'"
            dim = variables.get(key)
            if dim is None:
                dim = variables[key] = DimSuggestion(label, [], kind)
                kind_from[key] = why
            elif dim.kind is not kind and name_kind is not None:
                dim.kind, kind_from[key] = kind, why
            dim.uses.append((tensor.name, axis))
            # Facts the graph pins down for this dim.
            if recurrent is not None and recurrent.op_type in _RECURRENT_OPS and axis != 1:
                if axis == 2 and _attr(recurrent, "hidden_size"):
                    facts[key] = _Fact(int(_attr(recurrent, "hidden_size")), ShapeSource.GRAPH,
                                       f"{recurrent.op_type} '{recurrent.name}' has hidden_size "
                                       f"{_attr(recurrent, 'hidden_size')}")
                elif axis == 0:
                    directions = 2 if _attr(recurrent, "direction", b"forward") in (b"bidirectional",
                                                                                     "bidirectional") else 1
                    facts[key] = _Fact(directions, ShapeSource.GRAPH,
                                       f"{recurrent.op_type} '{recurrent.name}' takes {directions} state slice(s)")
            weight = _direct_weight_dim(tensor.name, axis, len(tensor.shape), consumers, constants)
            if weight is not None and key not in facts:
                facts[key] = _Fact(weight[0], ShapeSource.GRAPH, weight[1])
            if key not in facts and isinstance(declared, str) and declared.lower() in metadata:
                try:
                    facts[key] = _Fact(int(metadata[declared.lower()]), ShapeSource.METADATA,
                                       f"the model's metadata says {declared} = {metadata[declared.lower()]}")
                except ValueError:
                    pass
            if dim.kind is DimKind.SPATIAL and len(tensor.shape) == 4:
                if strides is None:
                    axes = (1, 2) if axis in (1, 2) and not (2 in tensor.dynamic_dims and 3 in tensor.dynamic_dims
                                                              and axis != 1) else (2, 3)
                    strides = (spatial_strides(graph, tensor.name, constants), axes)
                (stride_h, stride_w), axes = strides
                dim.multiple_of = max(dim.multiple_of, stride_h if axis == axes[0] else stride_w)
    for key, dim in variables.items():
        dim.reason = kind_from[key]
        ladder = [v for v in LADDERS[dim.kind] if v % dim.multiple_of == 0] if dim.multiple_of > 1 \
            else list(LADDERS[dim.kind])
        if dim.multiple_of > 1 and not ladder:
            ladder = [dim.multiple_of * k for k in (7, 10, 20, 4, 2, 1)]
        dim.candidates = ladder
    return list(variables.values()), facts, states


# --- probing -----------------------------------------------------------------------------------

_NODE_IN_ERROR = re.compile(r"Name:'([^']*)'")


def _degenerate(outputs: dict[str, np.ndarray]) -> bool:
    """True when no output says anything: all empty or constant, or any float output NaN/Inf."""
    informative = False
    for array in outputs.values():
        array = np.asarray(array)
        if array.dtype.kind == "f" and array.size and not np.all(np.isfinite(array)):
            return True
        if array.size > 1 and array.dtype.kind in "fiub" and np.ptp(array.reshape(-1).astype(np.float64)) > 0:
            informative = True
    return not informative


class _Prober:
    def __init__(self, model: LoadedModel, values: dict[str, np.ndarray], seed: int, deadline: float,
                 cancel: CancelToken | None):
        from workbench.core.compare.runners import OnnxruntimeRunner

        self.model = model
        self.values = values
        self.seed = seed
        self.deadline = deadline
        self.cancel = cancel
        self.runs: list[ProbeRun] = []
        self.cache: dict[tuple, ProbeRun] = {}
        self.runner = OnnxruntimeRunner(model, quick=True)
        self.nodes = {n.name: n for n in model.proto.graph.node if n.name}
        self.constants = ConstantValues(model.proto)

    def out_of_time(self) -> bool:
        return time.perf_counter() > self.deadline or len(self.runs) >= MAX_PROBES

    def run(self, shapes: dict[str, Shape]) -> ProbeRun:
        key = tuple(sorted(shapes.items()))
        if key in self.cache:
            return self.cache[key]
        if self.cancel is not None:
            self.cancel.raise_if_cancelled("The shape probe")
        from workbench.core.compare.inputs import random_inputs

        started = time.perf_counter()
        try:
            feeds = random_inputs(self.model, self.seed, shapes=shapes)
            feeds.update({k: v for k, v in self.values.items() if k in feeds})
            outputs = self.runner.run(feeds)
            result = ProbeRun(shapes, True, _degenerate(outputs))
        except WorkbenchError as exc:
            detail = exc.detail or exc.message
            match = _NODE_IN_ERROR.search(detail)
            result = ProbeRun(shapes, False, error=_first_line(detail), node=match.group(1) if match else "")
        except MemoryError:
            result = ProbeRun(shapes, False, error="out of memory")
        result.seconds = time.perf_counter() - started
        self.runs.append(result)
        self.cache[key] = result
        return result

    def constant_operand(self, node_name: str) -> tuple[str, list[int]] | None:
        """(op, values) of the constant shape operand of a failing node (e.g. a baked Reshape target)."""
        node = self.nodes.get(node_name)
        if node is None:
            return None
        position = _SHAPE_OPERANDS.get(node.op_type)
        candidates = [position] if position is not None else range(len(node.input))
        for index in candidates:
            value = self.constants.get(node.input[index]) if index < len(node.input) else None
            if value is not None and value.dtype.kind in "iu" and 0 < value.size <= 8:
                return node.op_type, [int(v) for v in value.reshape(-1)]
        return None

    def close(self) -> None:
        self.runner.close()


def _first_line(text: str) -> str:
    """onnxruntime's reason without its prefixes and source locations: "Input shape:{128,1,256}, requested
    shape:{64,8,32}" is what the user needs from a Reshape failure."""
    text = text.strip().splitlines()[0] if text.strip() else text
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    text = text.split("Status Message: ", 1)[-1]
    text = re.sub(r"^/\S+:\d+ \S+\([^)]*\)\s*", "", text)
    text = re.sub(r"^[\w.]+ (==|!=|<=|>=|<|>) [\w.]+ was false\. ", "", text)
    return text[:300]


def _failure_text(run: ProbeRun, prober: _Prober) -> str:
    if run.node:
        node = prober.nodes.get(run.node)
        op = node.op_type if node is not None else "node"
        return f"fails in {op} '{run.node}'"
    return f"fails ({run.error[:120]})"


def _assignments(dims: list[DimSuggestion]):
    """Assignments of candidate indices in order of total (weighted) rank: the most typical first."""
    sizes = [len(d.candidates) for d in dims]
    weights = [_RANK_WEIGHT.get(d.kind, 1) for d in dims]
    limit = sum((s - 1) * w for s, w in zip(sizes, weights))
    for total in range(limit + 1):
        yield from _with_total(0, total, sizes, weights, [])


def _with_total(index, total, sizes, weights, prefix):
    if index == len(sizes):
        if total == 0:
            yield list(prefix)
        return
    for rank in range(sizes[index]):
        cost = rank * weights[index]
        if cost > total:
            break
        prefix.append(rank)
        yield from _with_total(index + 1, total - cost, sizes, weights, prefix)
        prefix.pop()


def _shapes_for(inputs: list[TensorInfo], values: dict[str, int]) -> dict[str, Shape]:
    shapes = {}
    for tensor in inputs:
        if tensor.shape is None:
            continue
        shapes[tensor.name] = tuple(d if isinstance(d, int) and d > 0 else values.get((tensor.name, axis), 1)
                                    for axis, d in enumerate(tensor.shape))
    return shapes


def _values_by_use(dims: list[DimSuggestion], chosen: dict[str, int]) -> dict[tuple[str, int], int]:
    return {use: chosen[d.label] for d in dims for use in d.uses if d.label in chosen}


# --- the service -------------------------------------------------------------------------------

def switch_values(model: LoadedModel) -> dict[str, InputValue]:
    """Values for small inputs that steer the graph (a sample rate, a ratio): the model's own hint,
    so probes and comparisons run the path the model takes in deployment, not a random one."""
    from workbench.core.fixes.inputs import steered_nodes
    from workbench.core.repair import default_values

    found = {}
    inputs = {t.name: t for t in model.summary().inputs}
    for name in steered_nodes(model.proto.graph, model.summary().inputs):
        tensor = inputs[name]
        value, source = default_values(model, name)[0]
        dtype = np.dtype(tensor.dtype) if tensor.dtype not in ("bfloat16", "undefined") else np.dtype(np.float32)
        shape = tuple(tensor.shape or ())
        try:
            array = np.full(shape, value, dtype=dtype)
        except (TypeError, ValueError):
            continue
        found[name] = InputValue(name, array, f"switch input; value from {source}")
    return found


def _from_profile(dims: list[DimSuggestion], profile: Profile, source: ShapeSource, what: str) -> None:
    for dim in dims:
        for name, axis in dim.uses:
            rng = profile.shapes.get(name)
            if rng is not None and len(rng.opt) > axis:
                dim.min, dim.opt, dim.max = rng.min[axis], rng.opt[axis], rng.max[axis]
                dim.source, dim.reason = source, what
                break


def suggest_shapes(model: LoadedModel, *, profiles: list[Profile] | None = None,
                   sample_shapes: dict[str, list[Shape]] | None = None, probe: bool = True,
                   budget_seconds: float = DEFAULT_PROBE_BUDGET_SECONDS, seed: int = 0,
                   cancel: CancelToken | None = None) -> ShapeSuggestion:
    """Realistic min/opt/max for every dynamic dim of ``model``'s inputs, each with source and reason.

    Cached on the model per arguments (a ``LoadedModel`` is immutable), so the trial build, parity,
    comparisons and the Profiles panel share one probe.
    """
    cache_key = (_profiles_key(profiles), repr(sorted((sample_shapes or {}).items())), probe, seed)
    with _LOCKS_GUARD:
        lock = model.__dict__.setdefault("_shape_lock", threading.Lock())
    with lock:  # a caller arriving while a prefetch probes waits for its answer instead of probing again
        cache = model.__dict__.setdefault("_shape_suggestions", {})
        if cache_key not in cache:
            arguments = (profiles, sample_shapes, probe, budget_seconds, seed)
            if probe and _runs_in_child(model):
                from workbench.core.compare.runners import model_for_child, onnxruntime_child

                cache[cache_key] = onnxruntime_child().call(
                    _suggest_in_child, model_for_child(model), *arguments, cancel=cancel,
                    what="Choosing realistic shapes (onnxruntime)")
            else:
                cache[cache_key] = _suggest(model, *arguments, cancel)
        return cache[cache_key]


def _runs_in_child(model: LoadedModel) -> bool:
    from workbench.core.compare.runners import runs_in_child  # imports onnxruntime: only when probing

    return runs_in_child(model)


def _suggest_in_child(model: tuple, *arguments) -> ShapeSuggestion:
    """The probe of a large model, in a child: onnxruntime's copy of the weights (and a native crash) stay there."""
    from workbench.core.compare.runners import model_in_child

    return _suggest(model_in_child(*model), *arguments, None)


def known_shapes(model: LoadedModel) -> ShapeSuggestion:
    """The probed suggestion when one was made for ``model`` already, else the graph-only one (no run):
    for callers on the GUI thread, such as a fix dialog's pre-filled shape."""
    probed = model.__dict__.get("_shape_suggestions", {}).get((_profiles_key(None), repr([]), True, 0))
    return probed or suggest_shapes(model, probe=False)


def prefetch_shapes(model: LoadedModel) -> threading.Thread:
    """Start the probe in a thread (onnxruntime releases the GIL), e.g. while TensorRT's parser analyses
    the model; a later ``suggest_shapes(model)`` gets its answer. Errors surface in that later call."""
    def work() -> None:
        try:
            suggest_shapes(model)
        except Exception:  # noqa: BLE001 - nothing is cached then: the caller's own suggest_shapes() raises it
            pass

    thread = threading.Thread(target=work, name="shape-probe", daemon=True)
    thread.start()
    return thread


def _suggest(model: LoadedModel, profiles, sample_shapes, probe: bool, budget_seconds: float, seed: int,
             cancel: CancelToken | None) -> ShapeSuggestion:
    started = time.perf_counter()
    inputs = model.summary().inputs
    dims, facts, states = _analyse_dims(model)
    suggestion = ShapeSuggestion(inputs, dims, switch_values(model) if dims or inputs else {}, states)
    # 1–2: the user's profile, then sample data.
    usable = [p for p in profiles or [] if p.shapes]
    if usable:
        _from_profile(dims, usable[0], ShapeSource.PROFILE, "your optimization profile")
    if sample_shapes:
        _from_profile([d for d in dims if not d.resolved], profile_from_samples(inputs, sample_shapes),
                      ShapeSource.SAMPLES, "the shapes of the sample data")
    # 3: graph facts; 4: batch convention.
    for dim in dims:
        if dim.resolved:
            continue
        fact = facts.get(dim.label)
        if fact is not None:
            dim.min = dim.opt = dim.max = fact.value
            dim.source, dim.reason = fact.source, fact.reason
        elif dim.kind is DimKind.BATCH:
            dim.min = dim.opt = dim.max = 1
            dim.source = ShapeSource.CONVENTION
            dim.reason = f"batch-like ({dim.reason}); set a larger max in the Profiles panel to serve batches"
        else:
            # Before the probe: the kind's typical value (a multiple of the network's stride).
            dim.opt = dim.min = dim.max = dim.candidates[0]
    open_dims = [d for d in dims if not d.resolved]
    if open_dims and probe:
        _probe(model, suggestion, open_dims, seed, started + budget_seconds, cancel)
    elif open_dims:
        for dim in open_dims:
            dim.reason = f"typical {dim.kind.value} size ({dim.reason}){_stride_text(dim)}; not yet checked by a run"
            dim.source = ShapeSource.CONVENTION
        suggestion.note = "Shapes not checked by an onnxruntime run yet."
        suggestion.unchecked = True
    suggestion.seconds = time.perf_counter() - started
    return suggestion


def _stride_text(dim: DimSuggestion) -> str:
    return f", a multiple of the network's stride {dim.multiple_of}" if dim.multiple_of > 1 else ""


def _profiles_key(profiles) -> str:
    return repr([p.to_dict() for p in profiles or []])


def _probe(model: LoadedModel, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion], seed: int,
           deadline: float, cancel: CancelToken | None) -> None:
    fixed = {d.label: d.opt for d in suggestion.dims if d.resolved}
    values = {n: v.value for n, v in suggestion.values.items()}
    try:
        prober = _Prober(model, values, seed, deadline, cancel)
    except WorkbenchError as exc:
        for dim in open_dims:
            dim.source = ShapeSource.CONVENTION
            dim.reason = f"typical {dim.kind.value} size ({dim.reason}){_stride_text(dim)}; not checked: " \
                         f"onnxruntime cannot load the model"
        suggestion.note = f"No probe: {exc.message}"
        return
    suggestion.probed = True
    try:
        found, first_ok, failures = _search(prober, suggestion, open_dims, fixed)
        if found is None:
            found = first_ok
        if found is None:
            for dim in open_dims:
                dim.source = ShapeSource.UNRESOLVED
                tried = sorted({v for r in prober.runs for v in _dim_values(r, dim)})
                last = failures[-1] if failures else None
                dim.reason = f"nothing tried runs ({', '.join(map(str, tried[:8]))} tried" + \
                             (f"; {_failure_text(last, prober)}: {last.error[:160]}" if last else "") + ")"
            return
        chosen, run = found
        for dim in open_dims:
            dim.opt = dim.min = dim.max = chosen[dim.label]
            dim.source = ShapeSource.PROBE
            dim.reason = f"{dim.reason}; {dim.opt} runs under onnxruntime" + \
                (" (outputs constant or empty at every size tried)" if run.degenerate else "") + _stride_text(dim)
            failed_here = [f for f in failures if _dim_values(f, dim)]
            baked = _baked_reason(failed_here, prober, dim)
            if baked:
                dim.reason = f"{dim.opt} runs, {baked}"
        _ranges(prober, suggestion, open_dims, chosen)
    finally:
        suggestion.probes = prober.runs
        prober.close()


def _dim_values(run: ProbeRun, dim: DimSuggestion) -> list[int]:
    return [run.shapes[name][axis] for name, axis in dim.uses if name in run.shapes]


def _baked_reason(failures: list[ProbeRun], prober: _Prober, dim: DimSuggestion) -> str:
    for run in failures:
        operand = prober.constant_operand(run.node) if run.node else None
        if operand and dim.opt in operand[1]:
            value = _dim_values(run, dim)[0]
            return f"{value} {_failure_text(run, prober)}, which has the constant shape {operand[1]}"
    return ""


_INTEGER = re.compile(r"\d+")


def _solve_from_errors(first: ProbeRun, second: ProbeRun, dim: DimSuggestion) -> list[int]:
    """Values of ``dim`` that error messages point at, from two failures in the same node that differ in
    this dim only. A number in the message that moves with the dim (``a = r·v + b``, e.g. a feature size
    of channels × collapsed height) must reach one that stays put (the weight's size): solve for ``v``.
    "Input W must have shape {2,192,448}. Actual:{2,192,96}" at H = 224 and {2,192,640} at H = 320
    point at H = 48."""
    if not first.node or first.node != second.node:
        return []
    a_values, b_values = _dim_values(first, dim), _dim_values(second, dim)
    if not a_values or a_values[0] == b_values[0]:
        return []
    others_same = all(first.shapes[name][axis] == second.shapes[name][axis]
                      for name in first.shapes for axis in range(len(first.shapes[name]))
                      if (name, axis) not in dim.uses)
    numbers_a = [int(n) for n in _INTEGER.findall(first.error)]
    numbers_b = [int(n) for n in _INTEGER.findall(second.error)]
    if not others_same or len(numbers_a) != len(numbers_b):
        return []
    v1, v2 = a_values[0], b_values[0]
    moving = [(x, y) for x, y in zip(numbers_a, numbers_b) if x != y]
    if not moving:
        return []
    x, y = moving[0]
    slope = (y - x) / (v2 - v1)
    if slope == 0:
        return []
    offset = x - slope * v1
    found = []
    for fixed in (x for x, y in zip(numbers_a, numbers_b) if x == y and x > 1):
        value = (fixed - offset) / slope
        if value > 1 and abs(value - round(value)) < 1e-9 and round(value) % dim.multiple_of == 0:
            found.append(int(round(value)))
    return found[::-1]  # the last number of a message is usually the expected one ("Actual: …")


def _search(prober: _Prober, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion], fixed: dict):
    """Best-first over candidate assignments; failing nodes with constant operands add candidates."""
    first_ok = None
    failures: list[ProbeRun] = []
    tried: set[tuple] = set()
    while not prober.out_of_time():
        added = False
        for ranks in _assignments(open_dims):
            if prober.out_of_time():
                break
            chosen = {**fixed, **{d.label: d.candidates[r] for d, r in zip(open_dims, ranks)}}
            key = tuple(sorted(chosen.items()))
            if key in tried:
                continue
            tried.add(key)
            run = prober.run(_shapes_for(suggestion.inputs, _values_by_use(suggestion.dims, chosen)))
            if run.ok and not run.degenerate:
                return (chosen, run), first_ok, failures
            if run.ok:
                first_ok = first_ok or (chosen, run)
                continue
            operand = prober.constant_operand(run.node) if run.node else None
            for dim in open_dims:
                if dim.kind is DimKind.BATCH:
                    continue
                hinted = list(operand[1]) if operand else []
                hinted += [v for other in failures for v in _solve_from_errors(other, run, dim)]
                for value in reversed([v for v in dict.fromkeys(hinted) if v > 1]):
                    if value in dim.candidates[:2]:
                        continue
                    if value in dim.candidates:
                        dim.candidates.remove(value)
                    dim.candidates.insert(1, value)  # right after the typical value: tried next
                    added = True
            failures.append(run)
            if added:
                break  # restart the enumeration with the new candidates first
        if not added:
            break
    return None, first_ok, failures


def _ranges(prober: _Prober, suggestion: ShapeSuggestion, open_dims: list[DimSuggestion], chosen: dict) -> None:
    """min: the smallest ladder value below opt that still runs (bisection); max: a larger value when a
    run there is cheap enough, else opt. Batch-like dims stay at their value."""
    opt_run_seconds = max((r.seconds for r in prober.runs if r.ok), default=0.0)
    for dim in open_dims:
        if dim.kind is DimKind.BATCH:
            continue
        below = sorted({v for v in LADDERS[dim.kind] + tuple(dim.candidates)
                        if v < dim.opt and v % dim.multiple_of == 0})
        low_index, high_index = 0, len(below) - 1
        smallest, first_failure = dim.opt, None
        while low_index <= high_index and not prober.out_of_time():
            middle = (low_index + high_index) // 2
            run = prober.run(_shapes_for(suggestion.inputs, _values_by_use(suggestion.dims,
                                                                          {**chosen, dim.label: below[middle]})))
            if run.ok:
                smallest, high_index = below[middle], middle - 1
            else:
                first_failure, low_index = (below[middle], run), middle + 1
        dim.min = smallest
        if first_failure is not None and smallest != dim.opt:
            failed = f"{dim.label} = {first_failure[0]} {_failure_text(first_failure[1], prober)}"
            dim.reason += f"; min {smallest}: {failed}"
        elif first_failure is not None:
            dim.reason += f"; smaller values fail ({dim.label} = {first_failure[0]} " \
                          f"{_failure_text(first_failure[1], prober)})"
        above = sorted(v for v in set(LADDERS[dim.kind]) if v > dim.opt and v % dim.multiple_of == 0)
        target = next((v for v in above if v >= 2 * dim.opt), above[-1] if above else None)
        estimate = opt_run_seconds * (target / dim.opt) if target else 0.0
        remaining = prober.deadline - time.perf_counter()
        if target is None:
            continue
        if estimate > min(_MAX_PROBE_SECONDS, remaining) or prober.out_of_time():
            dim.reason += f"; max = opt: {target} not probed (a run there would take ~{estimate:.1f} s; " \
                          "the Profiles panel's check runs it)"
            continue
        run = prober.run(_shapes_for(suggestion.inputs, _values_by_use(suggestion.dims, {**chosen, dim.label: target})))
        if run.ok:
            dim.max = target
        else:
            dim.reason += f"; max = opt: {dim.label} = {target} {_failure_text(run, prober)}"
            if smallest == dim.opt and first_failure is not None:
                dim.runs_only_at = True
                dim.node = run.node or first_failure[1].node
                operand = prober.constant_operand(dim.node) if dim.node else None
                failing = run if run.node else first_failure[1]
                dim.reason = f"{dim.label} = {target} and {dim.label} = {first_failure[0]} fail in " \
                             f"{prober.nodes[dim.node].op_type if dim.node in prober.nodes else 'node'} " \
                             f"'{dim.node}'" + (f", which has the constant shape {operand[1]}" if operand else
                                                f" ({failing.error[:160]})")


# --- profiles checked against the model --------------------------------------------------------

@dataclass
class RowCheck:
    """Whether onnxruntime runs the model with one input of one profile at its min and at its max shape
    (the other inputs at their opt shapes)."""

    profile: int
    input: str
    results: dict[str, str]  # "min"/"max" → "" when it runs, else why not
    node: str = ""  # the node that refused, when one did

    @property
    def ok(self) -> bool:
        return not any(self.results.values())

    def text(self) -> str:
        if self.ok:
            return f"'{self.input}' runs under onnxruntime at min and max"
        return "; ".join(f"'{self.input}' at {which}: {why}" for which, why in self.results.items() if why)

    def to_dict(self) -> dict:
        return {"profile": self.profile, "input": self.input, "ok": self.ok, "results": self.results,
                "node": self.node, "text": self.text()}


def probe_profiles(model: LoadedModel, profiles: list[Profile], *, seed: int = 0, progress=None,
                   cancel: CancelToken | None = None) -> list[RowCheck]:
    """Check every dynamic input row of every profile against the model under onnxruntime, before any build:
    a profile whose min or max the model cannot take (a size baked in at export, a too-small image) fails
    here with the node, instead of inside TensorRT."""
    suggestion = suggest_shapes(model, probe=False)
    values = {n: v.value for n, v in suggestion.values.items()}
    prober = _Prober(model, values, seed, math.inf, cancel)
    checks = []
    rows = [(index, name) for index, profile in enumerate(profiles) for name in profile.shapes]
    try:
        for done, (index, name) in enumerate(rows):
            if progress is not None:
                progress(f"Checking profile {index + 1}, '{name}'", done / max(len(rows), 1))
            profile = profiles[index]
            base = {**suggestion.shapes(), **{n: r.opt for n, r in profile.shapes.items()}}
            results, node = {}, ""
            for which in ("min", "max"):
                run = prober.run({**base, name: profile.shapes[name].get(which)})
                results[which] = "" if run.ok else f"{_failure_text(run, prober)}: {run.error[:200]}"
                node = node or run.node
            checks.append(RowCheck(index, name, results, node))
    finally:
        prober.close()
    return checks


def suggested_feeds(model: LoadedModel, seed: int = 0, shapes: dict[str, Shape] | None = None,
                    suggestion: ShapeSuggestion | None = None) -> dict[str, np.ndarray]:
    """Seeded random inputs at realistic shapes, switch inputs at the model's own values."""
    from workbench.core.compare.inputs import random_inputs

    suggestion = suggestion or suggest_shapes(model)
    feeds = random_inputs(model, seed, shapes={**suggestion.shapes(), **(shapes or {})})
    feeds.update({k: v.value for k, v in suggestion.values.items() if k in feeds})
    return feeds
