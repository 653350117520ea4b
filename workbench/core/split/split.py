"""Split execution: a TensorRT engine for what TensorRT builds, onnxruntime for the rest, and the proof.

``split_model`` asks TensorRT's parser which nodes it refuses (``supports_model_v2`` through the support
analysis), partitions the graph (``partition``), makes each part a checked ONNX model (``parts``),
trial-builds the TensorRT parts with a realistic profile — nodes the builder refuses move out and the
partition is made again — then runs the parts in sequence (``chain``) and compares the chained outputs
with the original model under onnxruntime, output by output, with the comparator's metrics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from workbench.core.analysis.support import analyze_support, parser_rejections
from workbench.core.backend import Backend
from workbench.core.runtime import load_backend
from workbench.core.build.engine import BuildResult, BuildSettings, build_engine
from workbench.core.compare.inputs import InputSpec, make_inputs
from workbench.core.compare.metrics import OutputComparison, Tolerances, compare_arrays
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, graph_inputs, iter_nodes
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.shapes.profiles import Profile, ShapeRange, describe_profile, profiles_to_recipe
from workbench.core.shapes.suggest import suggest_shapes
from workbench.core.split.bounds import DimBounds
from workbench.core.split.chain import ChainedRunner
from workbench.core.split.partition import DEFAULT_MAX_PARTS, TENSORRT, Assignment, _Graph, \
    assign_stages, node_label
from workbench.core.split.parts import Boundary, Part, build_parts, known_types, static_names
from workbench.core.problems import ProblemKind

# Each round partitions, parses the TensorRT parts (nodes the parser rejects move out, see _refused_alike) and,
# once they parse, builds them (nodes the builder refuses move out): at most MAX_ROUNDS rounds, MAX_BUILD_ROUNDS
# of them with builds.
MAX_ROUNDS, MAX_BUILD_ROUNDS = 12, 4
# A data-dependent boundary dim the graph does not cap: its profile's max is this many times what the validation
# run saw (the reason says so).
ASSUMED_DATA_HEADROOM = 4
ALL_ON_TENSORRT, SPLIT, NOTHING_ON_TENSORRT, BUILD_FAILED = "one-part", "split", "nothing-on-tensorrt", "build-failed"


@dataclass
class PartBuild:
    part: int
    succeeded: bool
    profiles: list[Profile]
    profile_reasons: list[str]
    result: BuildResult | None
    engine_path: str = ""

    def to_dict(self) -> dict:
        return {"part": self.part, "succeeded": self.succeeded, "profiles": profiles_to_recipe(self.profiles),
                "profile_reasons": self.profile_reasons, "engine": self.engine_path,
                "seconds": round(self.result.total_seconds, 3) if self.result else 0.0,
                "problems": [p.to_dict() for p in self.result.problems] if self.result else []}


@dataclass
class SplitResult:
    status: str
    message: str
    model: LoadedModel
    parts: list[Part]
    boundaries: list[Boundary]
    builds: list[PartBuild]
    settings: BuildSettings
    comparison: list[OutputComparison] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)  # the validation inputs, with where they came from
    ran_with: str = ""
    rounds: list[str] = field(default_factory=list)  # what each partition round found
    seconds: dict = field(default_factory=dict)

    @property
    def builds_ok(self) -> bool:
        return bool(self.builds) and all(b.succeeded for b in self.builds)

    @property
    def matches(self) -> bool:
        return bool(self.comparison) and all(c.passed for c in self.comparison)

    @property
    def succeeded(self) -> bool:
        return self.status in (SPLIT, ALL_ON_TENSORRT) and self.builds_ok and self.matches

    def to_dict(self) -> dict:
        return {"status": self.status, "message": self.message, "model": str(self.model.path or self.model.name),
                "parts": [p.to_dict() for p in self.parts], "boundaries": [b.to_dict() for b in self.boundaries],
                "build": {"succeeded": self.builds_ok, "settings": self.settings.to_dict(),
                          "parts": [b.to_dict() for b in self.builds]},
                "comparison": {"matches": self.matches, "ran_with": self.ran_with, "inputs": self.inputs,
                               "outputs": [c.to_dict() for c in self.comparison]},
                "rounds": self.rounds, "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "succeeded": self.succeeded}


def _top_level(problem, names: set[str]) -> str:
    """The top-level node a problem is about (a nested node's If/Loop parent)."""
    for candidate in (problem.parent, problem.node):
        if candidate in names:
            return candidate
    return ""


def requested_assignment(model: LoadedModel, tensors: list[str], blocked: dict[str, str]) -> Assignment:
    """Stage 0 computes exactly ``tensors`` from the inputs; everything else runs under onnxruntime."""
    graph = model.proto.graph
    g = _Graph(graph)
    known = {o for node, _ in iter_nodes(graph) for o in node.output if o}
    inputs = {i.name for i in graph_inputs(graph)}
    for name in tensors:
        if name in inputs or name in g.free_tensors:
            raise WorkbenchError(f"'{name}' is a graph input or a constant, not a tensor a TensorRT part computes.",
                                 "Name node outputs (the graph view shows them) as boundary tensors.")
        if name not in known:
            raise WorkbenchError(f"The model has no tensor named '{name}'.",
                                 "Use names of node outputs as the graph view and `analyze --json` show them.")
        if name not in g.producer:
            raise WorkbenchError(f"'{name}' is computed inside an If/Loop body; a boundary must be a top-level tensor.",
                                 "Choose the If/Loop node's output instead.")
    needed, frontier = set(), [g.producer[n] for n in tensors]
    while frontier:
        index = frontier.pop()
        if index not in needed:
            needed.add(index)
            frontier.extend(g.producers_of(index))
    refused = [node_label(g.nodes[i]) for i in needed
               if node_label(g.nodes[i]) in blocked or g.nodes[i].name in blocked]
    if refused:
        raise WorkbenchError(f"TensorRT cannot compute the requested boundary: it needs {', '.join(sorted(refused))}, "
                             f"which TensorRT refuses ({blocked.get(sorted(refused)[0], 'refused')}).",
                             "Choose tensors computed before the refused nodes, or leave the boundary to the tool.")
    stage = {i: 0 if i in needed else 1 for i in g.active}
    return Assignment(stage, {i: "after the requested boundary" for i, s in stage.items() if s == 1})


def _profiles_for(part: Part, model_profile: Profile | None, reasons: list[str],
                  observed: dict[str, np.ndarray], types, bounds: DimBounds) -> tuple[list[Profile], list[str]]:
    """The model's profile for its own inputs; boundary inputs at the shapes the validation run saw, except
    dims computed from data (after a NonZero, TopK, NMS …): min 0 (nothing found is a valid result), opt what
    the run saw, max the cap the graph gives or a stated assumption."""
    profile = Profile()
    notes = list(reasons) if model_profile and any(n in model_profile.shapes for n in part.inputs) else []
    for name in part.inputs:
        if model_profile is not None and name in model_profile.shapes:
            profile.shapes[name] = model_profile.shapes[name]
            continue
        info = types.get(name)
        dims = info.type.tensor_type.shape.dim if info is not None and info.type.tensor_type.HasField("shape") \
            else None
        static = dims is not None and all(d.HasField("dim_value") for d in dims)
        if name not in observed or static:
            continue
        shape = tuple(int(d) for d in observed[name].shape)
        low, high = list(shape), list(shape)
        ranged = []
        if bounds.data_dependent(name):
            for axis, size in enumerate(shape):
                if dims is not None and axis < len(dims) and dims[axis].HasField("dim_value"):
                    continue
                cap = bounds.upper(name, axis)
                low[axis] = 0
                if cap is not None:
                    high[axis] = max(cap, size)
                    ranged.append(f"dim {axis} 0…{high[axis]} (computed from data, can be empty; at most "
                                  f"{high[axis]}, the cap the ops that compute it give)")
                else:
                    high[axis] = max(size, 1) * ASSUMED_DATA_HEADROOM
                    ranged.append(f"dim {axis} 0…{high[axis]} (computed from data, can be empty; the graph gives "
                                  f"no cap: assumed at most {ASSUMED_DATA_HEADROOM}× the {size} of the validation "
                                  "run)")
        profile.shapes[name] = ShapeRange(tuple(low), shape, tuple(high))
        seen = f"{'x'.join(map(str, shape))}, the shape it had when the original model ran on the validation inputs"
        notes.append(f"{name}: {'; '.join(ranged)}; opt {seen}" if ranged else f"{name} = {seen} (boundary tensor)")
    return ([profile] if profile.shapes else []), notes


def split_model(model: LoadedModel, *, output_dir: str | Path | None = None, profiles: list[Profile] | None = None,
                boundary: list[str] | None = None, max_parts: int = DEFAULT_MAX_PARTS,
                settings: BuildSettings | None = None, backend: Backend | None = None,
                tolerances: Tolerances | None = None, seed: int = 0, progress: ProgressFn = no_progress,
                cancel: CancelToken | None = None) -> SplitResult:
    """Partition ``model``, build its TensorRT parts (engines into ``output_dir`` when given) and prove the chain.

    ``boundary``: tensors where the TensorRT part must end (else the largest region TensorRT builds).
    Raises ``WorkbenchError`` for bad requests and ``Cancelled`` when cancelled.
    """
    if max_parts < 2:
        raise WorkbenchError(f"At most {max_parts} part(s) cannot hold a split.", "Allow at least 2 parts.")
    backend = backend or load_backend()
    settings = settings or BuildSettings()
    cancel = cancel or CancelToken()
    tolerances = tolerances or Tolerances()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    progress("TensorRT's parser: which nodes it refuses", None)
    report = analyze_support(model, backend)
    names = {node_label(n) for n in model.proto.graph.node} | {n.name for n in model.proto.graph.node}
    blocked: dict[str, str] = {}
    for problem in report.problems:
        where = _top_level(problem, names)
        if problem.severity == "error" and problem.kind == ProblemKind.PARSER_ERROR and where:
            blocked.setdefault(where, problem.message)
    blocked.update(_refused_alike(model.proto.graph, blocked, {}))
    if not report.fully_supported and not blocked:  # unsupported subgraphs without a named error
        for ok, indices in report.subgraphs:
            for index in [] if ok else indices:
                blocked.setdefault(node_label(model.proto.graph.node[index]),
                                   f"in a subgraph TensorRT's parser cannot take (subgraph of {len(indices)} nodes)")
    timings["parser"] = time.perf_counter() - started
    shapes_started = time.perf_counter()

    progress("Choosing inputs for validation", None)
    suggestion = suggest_shapes(model, profiles=profiles, cancel=cancel)
    model_profile = profiles[0] if profiles else (suggestion.profile() if suggestion.profile().shapes else None)
    profile_reasons = [] if profiles else [d.text() for d in suggestion.dims]
    given = model_profile.shapes if model_profile else {}
    spec = InputSpec(seed=seed, shapes={n: list(r.opt) for n, r in given.items()})
    prepared = make_inputs(model, spec)
    types = known_types(model.full_proto())
    static = static_names(types)
    outputs = [o.name for o in model.proto.graph.output]
    model_inputs = {i.name for i in graph_inputs(model.proto.graph)}
    bounds = DimBounds(model.proto.graph, types)
    timings["shapes"] = time.perf_counter() - shapes_started

    rounds: list[str] = []
    partition_started, build_seconds = time.perf_counter(), 0.0
    builds_done, finished = 0, False
    for _round in range(MAX_ROUNDS):
        cancel.raise_if_cancelled("The split")
        assignment = requested_assignment(model, boundary, blocked) if boundary else \
            assign_stages(model.proto.graph, blocked, max_parts, static)
        observed = _run_original(model, assignment, prepared.arrays)  # its outputs and the boundary tensors
        parts, boundaries = build_parts(model, assignment, types, observed)
        trt_parts = [p for p in parts if p.runtime == TENSORRT]
        if not trt_parts:
            return _finish(NOTHING_ON_TENSORRT, "Nothing can go to TensorRT: no part it takes does real compute "
                           "(convolutions, matrix products).", model, parts, boundaries, [], settings, rounds,
                           timings, started)
        described = f"{len(parts)} part(s), boundary {_names(b.name for b in boundaries) or 'none'}"
        # The parser first (a check per part, far cheaper than a build): it names refused nodes the capability
        # check of the whole model did not reach (it stops at one error per subgraph).
        progress("TensorRT's parser on the TensorRT part(s)", None)
        rejected, shape_readers = {}, {}
        for part in trt_parts:
            part_rejected, part_shape_readers = _parser_refusals(part, model_inputs, backend)
            rejected.update(part_rejected)
            shape_readers.update(part_shape_readers)
        if (rejected or shape_readers) and not boundary:
            alike = _refused_alike(model.proto.graph, rejected, blocked)
            found = [f"the parser rejects {_names(rejected)}"] if rejected else []
            found += [f"{len(alike)} node(s) with the same op and attributes move out with them"] if alike else []
            found += [f"{_names(shape_readers)} read a computed tensor as a shape"] if shape_readers else []
            rounds.append(f"{described}: {'; '.join(found)}")
            blocked.update({**rejected, **alike, **shape_readers})
            continue
        if builds_done == MAX_BUILD_ROUNDS:
            break
        builds = []
        newly_refused: dict[str, str] = {}
        for part in trt_parts:
            part_profiles, notes = _profiles_for(part, model_profile, profile_reasons, observed, types, bounds)
            progress(f"Building {part.file}" + (f" ({describe_profile(part_profiles[0])})" if part_profiles else ""),
                     None)
            engine = Path(output_dir) / part.file.replace(".onnx", ".engine") if output_dir else None
            result = build_engine(part.model, settings, part_profiles, engine, backend=backend, cancel=cancel)
            build_seconds += result.total_seconds
            builds.append(PartBuild(part.index, result.succeeded, part_profiles, notes, result,
                                    result.engine_path if result.succeeded else ""))
            for problem in result.problems:
                where = _top_level(problem, set(part.nodes))
                if problem.severity == "error" and where:
                    newly_refused.setdefault(where, problem.message)
        builds_done += 1
        rounds.append(f"{described}: " + ("TensorRT parts build" if all(b.succeeded for b in builds) else
                                          f"the builder refuses {_names(newly_refused) or 'the part (no node named)'}"))
        if all(b.succeeded for b in builds) or not newly_refused or boundary:
            finished = True
            break
        blocked.update(newly_refused)
    timings["build"] = build_seconds
    timings["partition"] = time.perf_counter() - partition_started - build_seconds
    if not finished:
        last = rounds[-1] if rounds else ""
        rounds.append(f"stopped at the limit of {MAX_ROUNDS} rounds, {MAX_BUILD_ROUNDS} of them with builds")
        return _finish(BUILD_FAILED, f"The TensorRT parts still hold nodes TensorRT refuses after {len(rounds) - 1} "
                       f"round(s), the limit; the last: {last}", model, parts, boundaries, [], settings, rounds,
                       timings, started)
    if not all(b.succeeded for b in builds):
        return _finish(BUILD_FAILED, f"The TensorRT part does not build: {_first_problem(builds)}", model, parts,
                       boundaries, builds, settings, rounds, timings, started)

    progress("Running the parts in sequence and comparing with the original", None)
    check_started = time.perf_counter()
    engines = {b.part: b.engine_path for b in builds if b.engine_path}
    chain = ChainedRunner(parts, outputs, engines, backend, quick=True)
    try:
        chained = chain.run(prepared.arrays)
    finally:
        chain.close()
    comparison = [compare_arrays(name, observed[name], chained[name], *tolerances.for_output(name),
                                 infinities_compare_equal=tolerances.infinities_compare_equal) for name in outputs]
    timings["validation"] = time.perf_counter() - check_started
    status = SPLIT if len(parts) > 1 else ALL_ON_TENSORRT
    matched = all(c.passed for c in comparison)
    if status == ALL_ON_TENSORRT:
        message = "TensorRT builds the whole model: one part, no split needed."
    else:
        message = (f"{len(parts)} parts: " + " → ".join(f"{p.file} ({p.runtime}, {len(p.nodes)} nodes)" for p in parts)
                   + f"; {len(boundaries)} boundary tensor(s). Chained outputs "
                   + ("match the original under onnxruntime." if matched else "do NOT match the original."))
    split = _finish(status, message, model, parts, boundaries, builds, settings, rounds, timings, started)
    split.comparison, split.inputs, split.ran_with = comparison, prepared.describe(), chain.label
    return split


def _names(names, shown: int = 5) -> str:
    names = list(names)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _parser_refusals(part: Part, model_inputs: set[str], backend: Backend) -> tuple[dict[str, str], dict[str, str]]:
    """Top-level nodes of ``part`` the parser rejects (an If/Loop for a node of its body), with the reason; and
    the nodes that read a boundary tensor the parser takes as a shape tensor: its values would become shapes,
    and a value computed at run time (a count of detections) has no range a profile could state."""
    problems, shape_tensors = parser_rejections(part.model, backend)
    names = set(part.nodes)
    rejected: dict[str, str] = {}
    for problem in problems:
        where = _top_level(problem, names)
        if where:
            rejected.setdefault(where, problem.message)
    shape_readers: dict[str, str] = {}
    for tensor in shape_tensors:
        if tensor in model_inputs:
            continue
        for node in part.model.proto.graph.node:
            if tensor in node.input and node_label(node) in names:
                shape_readers.setdefault(node_label(node), f"reads '{tensor}', computed before this part, as a "
                                         "shape (TensorRT would need the range of its values to build)")
    return rejected, shape_readers


def _signature(node: onnx.NodeProto) -> tuple:
    return node.domain, node.op_type, tuple(a.SerializeToString(deterministic=True) for a in node.attribute)


def _refused_alike(graph: onnx.GraphProto, refused: dict[str, str], blocked: dict[str, str]) -> dict[str, str]:
    """The other top-level nodes with the op, domain and attributes of a node the parser rejected, assumed
    rejected too (the reason says so): the parser names one node per subgraph, and an export that repeats a
    refused op per class (torchvision's SSD: a NonZero per class) would otherwise need a round per copy."""
    by_name = {node_label(n): n for n in graph.node}
    kinds = {_signature(by_name[name]): name for name in refused if name in by_name}
    alike = {}
    for node in graph.node:
        label, first = node_label(node), kinds.get(_signature(node))
        if first and label not in refused and label not in blocked and node.name not in blocked:
            alike[label] = f"same op and attributes as '{first}', which the parser rejected: {refused[first]}"
    return alike


def _first_problem(builds: list[PartBuild]) -> str:
    for build in builds:
        if not build.succeeded and build.result and build.result.problems:
            return build.result.problems[0].message
    return "the builder gave no reason"


def _run_original(model: LoadedModel, assignment: Assignment, feeds: dict) -> dict[str, np.ndarray]:
    """The original under onnxruntime: its outputs (the reference) and the boundary tensors' values (their
    dtype and shape where shape inference has none), from one session.

    Both sides of the proof use onnxruntime's basic optimizations (``quick``): sessions that run once, where
    the full optimizer costs more than it saves, and the same level on both sides.
    """
    names = _Graph(model.proto.graph).boundary(assignment.stage)
    runner = OnnxruntimeRunner(model, extra_outputs=names, quick=True)
    try:
        return runner.run(feeds)
    finally:
        runner.close()


def _finish(status, message, model, parts, boundaries, builds, settings, rounds, timings, started) -> SplitResult:
    timings["total"] = time.perf_counter() - started
    return SplitResult(status, message, model, parts, boundaries, builds, settings, rounds=rounds, seconds=timings)

