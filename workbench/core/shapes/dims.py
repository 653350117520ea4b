"""The shape service's vocabulary: kinds of dimension, where a value came from, one dimension's
suggestion, and the whole suggestion with its concrete shapes and optimization profiles.

A ``ShapeSuggestion`` holds one ``DimSuggestion`` per free variable (dims that share a name are one
variable), the dims whose names are expressions of others (``relations``: computed, never chosen), and
the *workloads* a deployment runs (a decoder's prefill and decode steps), each a TensorRT optimization
profile of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from workbench.core.model.loading import TensorInfo
from workbench.core.problems import Problem, ProblemKind, Severity, Stage
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.shapes.relations import DimRelation

Shape = tuple[int, ...]
Use = tuple[str, int]  # (input name, axis)


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
    CONFIG = "config"  # a side file the exporter wrote beside the model (config.json, preprocessor_config.json)
    WORKLOAD = "workload"  # a deployment step of a decoder with KV cache (prefill, decode)
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
    upper: int = 0  # the largest value the graph allows (a position table's rows), 0 when it says nothing
    upper_reason: str = ""

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
class Workload:
    """One step a deployment runs (a decoder's prefill or decode), as one TensorRT optimization profile:
    ranges of the variables it pins, the other variables at the suggestion's own range."""

    name: str
    reason: str
    ranges: dict[str, tuple[int, int, int]]  # variable label → (min, opt, max)
    values: dict[str, bool] = field(default_factory=dict)  # switch inputs this step sets (a merged decoder's cache)

    def text(self) -> str:
        ranges = ", ".join(f"{label} {low}" + (f"…{high}" if high != low else "")
                           for label, (low, _opt, high) in self.ranges.items())
        switches = "".join(f", {name} = {value}" for name, value in self.values.items())
        return f"{self.name}: {ranges}{switches} ({self.reason})"

    def to_dict(self) -> dict:
        return {"name": self.name, "reason": self.reason, "ranges": {k: list(v) for k, v in self.ranges.items()},
                "values": dict(self.values), "text": self.text()}


def concrete_shapes(inputs: list[TensorInfo], values: dict[str, int], relations: dict[Use, DimRelation],
                    labels: dict[Use, str], fallback: int = 1) -> dict[str, Shape]:
    """Every input's shape from the variables' ``values`` (by label): static dims as declared, related dims
    computed from the dims they name, dims without a value at ``fallback``."""
    shapes = {}
    for tensor in inputs:
        if tensor.shape is None:
            continue
        dims = []
        for axis, declared in enumerate(tensor.shape):
            if isinstance(declared, int) and declared > 0:
                dims.append(declared)
            elif (tensor.name, axis) in relations:
                relation = relations[(tensor.name, axis)]
                known = all(symbol in values for symbol in relation.symbols)
                dims.append(relation.value(values) if known else fallback)
            else:
                dims.append(values.get(labels.get((tensor.name, axis), ""), fallback))
        shapes[tensor.name] = tuple(dims)
    return shapes


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
    relations: dict[Use, DimRelation] = field(default_factory=dict)  # dims computed from others' names
    workloads: list[Workload] = field(default_factory=list)  # one optimization profile each (none: one profile)

    @property
    def unresolved(self) -> list[DimSuggestion]:
        return [d for d in self.dims if not d.resolved]

    @property
    def assumed(self) -> list[DimSuggestion]:
        """Dims at a value nothing confirmed: unresolved (fallback 1), or a typical value no run checked."""
        return [d for d in self.dims if not d.resolved or (self.unchecked and d.source is ShapeSource.CONVENTION
                                                             and d.kind is not DimKind.BATCH)]

    def dim_for(self, name: str, axis: int) -> DimSuggestion | None:
        return next((d for d in self.dims if (name, axis) in d.uses), None)

    def labels(self) -> dict[Use, str]:
        return {use: d.label for d in self.dims for use in d.uses}

    def variable_values(self, which: str = "opt", workload: Workload | None = None) -> dict[str, int]:
        """Each resolved variable's min, opt or max (a workload's own ranges first)."""
        position = ("min", "opt", "max").index(which)
        values = {d.label: getattr(d, which) for d in self.dims if d.resolved}
        if workload is not None:
            values.update({label: rng[position] for label, rng in workload.ranges.items()})
        return values

    def shapes(self, which: str = "opt", workload: Workload | None = None) -> dict[str, Shape]:
        """Concrete shapes of every input with a known rank; unresolved dims fall back to 1 (stated in
        ``problems()`` and in the outcome of whatever builds with them)."""
        if workload is None and self.workloads and which == "opt":
            workload = self.workloads[-1]  # the step run most often (decode) is the representative point
        return concrete_shapes(self.inputs, self.variable_values(which, workload), self.relations, self.labels())

    def profile(self, workload: Workload | None = None) -> Profile:
        """min/opt/max for every dynamic input (static inputs need no entry); without ``workload`` one range
        over every workload."""
        if workload is None and self.workloads:
            return self._covering_profile()
        low, mid, high = (self.shapes(which, workload) if workload else self._plain_shapes(which)
                          for which in ("min", "opt", "max"))
        return Profile({t.name: ShapeRange(low[t.name], mid[t.name], high[t.name])
                        for t in self.inputs if t.is_dynamic and t.name in mid})

    def profiles(self) -> list[Profile]:
        """One optimization profile per workload (prefill, decode), or the one profile."""
        return [self.profile(w) for w in self.workloads] if self.workloads else [self.profile()]

    def _plain_shapes(self, which: str) -> dict[str, Shape]:
        return concrete_shapes(self.inputs, self.variable_values(which), self.relations, self.labels())

    def _covering_profile(self) -> Profile:
        """One profile whose every range covers every workload's (asked for when one profile must serve all)."""
        ranges = [self.profile(w) for w in self.workloads]
        merged = Profile()
        for name in ranges[0].shapes:
            lows = [r.shapes[name].min for r in ranges]
            highs = [r.shapes[name].max for r in ranges]
            low = tuple(min(dims) for dims in zip(*lows))
            high = tuple(max(dims) for dims in zip(*highs))
            opt = tuple(min(max(o, lo), hi) for o, lo, hi in zip(ranges[-1].shapes[name].opt, low, high))
            merged.shapes[name] = ShapeRange(low, opt, high)
        return merged

    def fixed_profile(self, which: str = "opt") -> Profile:
        shapes = self.shapes(which)
        return Profile({t.name: ShapeRange.fixed(shapes[t.name]) for t in self.inputs
                        if t.is_dynamic and t.name in shapes})

    def notes(self) -> list[str]:
        related = [f"{relation.label} = computed from {', '.join(relation.symbols)} (the exporter named the dim "
                   f"by this expression)" for relation in dict.fromkeys(self.relations.values())]
        return [d.text() for d in self.dims] + related + [f"profile {w.text()}" for w in self.workloads] + \
            [v.text() for v in self.values.values()] + ([self.note] if self.note else [])

    def problems(self) -> list[Problem]:
        """What the suggestion found that the user must know before a build."""
        found = []
        for dim in self.dims:
            inputs = sorted({name for name, _axis in dim.uses})
            if dim.runs_only_at:
                # A constant shape operand (a Reshape's target) is a size the export baked in; a weight's size
                # (a recurrent layer's input) is the architecture's.
                hint = f"The export baked this size in although the input says '{dim.label}' is dynamic. " \
                       "Re-export with dynamic shapes traced through (e.g. the dynamo exporter), or build for " \
                       f"{dim.label} = {dim.opt} only (set-input-shape)." if "constant shape" in dim.reason else \
                       f"The model's weights fix this size (the failing node needs it): build for {dim.label} = " \
                       f"{dim.opt} only (set-input-shape); a range would only admit sizes the model refuses."
                found.append(Problem(
                    kind=ProblemKind.BAKED_SHAPE, severity=Severity.WARNING, stage=Stage.MODEL, inputs=inputs,
                    node=dim.node, message=f"Runs only at {dim.label} = {dim.opt}: {dim.reason}.", hint=hint))
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
                "relations": {f"{name}[{axis}]": r.label for (name, axis), r in self.relations.items()},
                "workloads": [w.to_dict() for w in self.workloads],
                "assumed": [d.label for d in self.assumed],
                "probes": len(self.probes), "note": self.note, "seconds": round(self.seconds, 3),
                "notes": self.notes()}

