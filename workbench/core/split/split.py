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

from workbench.core.analysis.support import analyze_support
from workbench.core.backend import Backend, load_backend
from workbench.core.build.engine import BuildResult, BuildSettings, build_engine
from workbench.core.compare.inputs import InputSpec, make_inputs
from workbench.core.compare.metrics import OutputComparison, Tolerances, compare_arrays
from workbench.core.compare.runners import OnnxruntimeRunner
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, graph_inputs, iter_nodes
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.shapes.profiles import Profile, ShapeRange, describe_profile, profiles_to_recipe
from workbench.core.shapes.suggest import suggest_shapes
from workbench.core.split.chain import ChainedRunner
from workbench.core.split.partition import DEFAULT_MAX_PARTS, TENSORRT, Assignment, _Graph, \
    assign_stages, node_label
from workbench.core.split.parts import Boundary, Part, build_parts, known_types, static_names
from workbench.core.problems import ProblemKind

MAX_BUILD_ROUNDS = 6  # each round moves the nodes the builder refused out of TensorRT and builds again
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
                  observed: dict[str, np.ndarray], types) -> tuple[list[Profile], list[str]]:
    """The model's profile for its own inputs; boundary inputs at the shapes the validation run saw."""
    profile = Profile()
    notes = list(reasons) if model_profile and any(n in model_profile.shapes for n in part.inputs) else []
    for name in part.inputs:
        if model_profile is not None and name in model_profile.shapes:
            profile.shapes[name] = model_profile.shapes[name]
            continue
        info = types.get(name)
        static = info is not None and all(d.HasField("dim_value") for d in info.type.tensor_type.shape.dim)
        if name in observed and not static:
            shape = tuple(int(d) for d in observed[name].shape)
            profile.shapes[name] = ShapeRange.fixed(shape)
            notes.append(f"{name} = {'x'.join(map(str, shape))} (boundary tensor: the shape it had when the "
                         "original model ran on the validation inputs)")
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
    timings["shapes"] = time.perf_counter() - shapes_started

    rounds: list[str] = []
    partition_started, build_seconds = time.perf_counter(), 0.0
    for _round in range(MAX_BUILD_ROUNDS):
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
        builds = []
        newly_refused: dict[str, str] = {}
        for part in trt_parts:
            part_profiles, notes = _profiles_for(part, model_profile, profile_reasons, observed, types)
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
        rounds.append(f"{len(parts)} part(s), boundary {', '.join(b.name for b in boundaries) or 'none'}: " +
                      ("TensorRT parts build" if all(b.succeeded for b in builds) else
                       f"the builder refuses {', '.join(newly_refused) or 'the part (no node named)'}"))
        if all(b.succeeded for b in builds) or not newly_refused or boundary:
            break
        blocked.update(newly_refused)
    timings["build"] = build_seconds
    timings["partition"] = time.perf_counter() - partition_started - build_seconds
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

