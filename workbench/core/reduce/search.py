"""The search: the smallest candidate that still fails with the original failure's signature.

0. **The named node alone**, when the failure names one (TensorRT's message or the parser's error): one check.
1. **Cut from the outputs**: bisect over the nodes in graph order for the shortest prefix that still fails,
   then keep only what the prefix's last node depends on.
2. **Cut from the inputs**: bisect for the latest start that still fails.
3. **Delta debugging** (ddmin) over the nodes left: drop chunks, then single nodes, until no one node can go.

Every oracle call is checked against the time limit: when it runs out the search stops and says so, with the
smallest failing model so far. When nothing could be removed the original is checked once more: still
failing means the failure needs the whole graph, not failing any more means it is flaky; the final model is
re-checked too. Along the way the largest passing cut of the final model (one step smaller) is kept as the
passing neighbour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import onnx

from workbench.core.backend import Backend
from workbench.core.runtime import load_backend
from workbench.core.build.trial import trial_profiles
from workbench.core.compare.metrics import Tolerances
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, iter_nodes, node_label
from workbench.core.problems import NamedValue, Problem, ProblemKind
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.reduce.candidates import CandidateMaker, is_static, realistic_types
from workbench.core.reduce.oracle import (COMPARE_KIND, BuildOracle, Candidate, CompareOracle, Oracle,
                                          ParseOracle)
from workbench.core.reduce.signature import Failure, FailureStage
from workbench.core.shapes.profiles import Profile, describe_profile
from workbench.core.shapes.suggest import suggested_feeds

# Long enough for a few hundred parser checks or a few dozen builds of a mid-sized model; the repair
# search's budget is of the same order.
DEFAULT_TIME_LIMIT_SECONDS = 300.0
_PARSE_KINDS = {ProblemKind.PARSER_ERROR, ProblemKind.UNSUPPORTED_SUBGRAPH, ProblemKind.PLUGIN_UNAVAILABLE,
                ProblemKind.INPUT_DTYPE, ProblemKind.RESIZE_MODE}


class ReduceStatus(NamedValue):
    REDUCED = "reduced"  # a smaller model fails the same way (re-checked)
    STOPPED_EARLY = "stopped-early"  # the time limit ended the search: the smallest failing model so far
    NOT_REDUCIBLE = "not-reducible"  # no smaller cut fails the same way: the failure needs the whole graph
    FLAKY = "flaky"  # the failure did not show again when re-checked


@dataclass
class ProblemSpec:
    """Which failure to reduce: a problem kind (or ``compare``) and optionally the node it is on."""

    kind: str = ""
    node: str = ""

    @classmethod
    def parse(cls, text: str) -> "ProblemSpec":
        kind, _, node = text.partition(":")
        known = {str(k) for k in ProblemKind} | {COMPARE_KIND}
        if kind not in known:
            raise WorkbenchError(f"Unknown problem kind {kind!r}.",
                                 f"Use one of: {', '.join(sorted(known))} (optionally KIND:NODE).")
        return cls(kind, node)

    @property
    def stage(self) -> FailureStage | None:
        if not self.kind:
            return None
        if self.kind == COMPARE_KIND:
            return FailureStage.COMPARE
        return FailureStage.PARSE if self.kind in _PARSE_KINDS else FailureStage.BUILD


    @classmethod
    def from_problem(cls, problem: Problem) -> "ProblemSpec":
        """The problem's kind, and its node where the failure names one (an unsupported subgraph's first node
        is only where the subgraph starts)."""
        named = problem.kind in (ProblemKind.PARSER_ERROR, ProblemKind.BUILDER_ERROR)
        return cls(str(problem.kind), problem.node if named else "")


@dataclass
class ReduceResult:
    status: ReduceStatus
    message: str
    target: Failure
    original_nodes: int  # top-level nodes other than Constants
    reduced: LoadedModel
    reduced_nodes: list[str]
    reduced_ops: list[str]
    inputs: list[dict]  # name, dtype, shape, and for a boundary tensor the reason for its shape
    outputs: list[str]
    profiles: list[Profile]  # what the builds used (build failures with dynamic inputs)
    shape_reasons: list[str]  # the shape service's reasons for the shapes used
    oracle_calls: int
    invalid_candidates: int
    seconds: float
    time_limit: float
    steps: list[str]  # what each strategy achieved
    final_failures: list[Failure] = field(default_factory=list)  # what the last check of the reduced model saw
    neighbour: LoadedModel | None = None  # one step smaller, does not fail
    neighbour_nodes: list[str] = field(default_factory=list)
    reduced_test: LoadedModel | None = None  # comparisons: the same cut of the model under test
    feeds: dict[str, np.ndarray] = field(default_factory=dict)  # comparisons: the reduced model's inputs
    reference_outputs: dict[str, np.ndarray] = field(default_factory=dict)  # onnxruntime's, on ``feeds``
    tolerances: Tolerances | None = None
    backend: str = ""

    def to_dict(self) -> dict:
        return {"status": str(self.status), "message": self.message, "target": self.target.to_dict(),
                "signature": self.target.signature.text(), "original_nodes": self.original_nodes,
                "reduced_nodes": len(self.reduced_nodes), "nodes": self.reduced_nodes, "ops": self.reduced_ops,
                "inputs": self.inputs, "outputs": self.outputs,
                "profiles": [p.to_dict() for p in self.profiles], "shape_reasons": self.shape_reasons,
                "oracle_calls": self.oracle_calls, "invalid_candidates": self.invalid_candidates,
                "seconds": round(self.seconds, 3), "time_limit": self.time_limit, "steps": self.steps,
                "neighbour_nodes": self.neighbour_nodes, "backend": self.backend,
                "final_failures": [f.to_dict() for f in self.final_failures]}

    def describe(self) -> str:
        lines = [self.message, f"  failure: {self.target.signature.text()}",
                 f"  nodes: {self.original_nodes} → {len(self.reduced_nodes)} ({', '.join(self.reduced_ops)})",
                 f"  oracle calls: {self.oracle_calls} ({self.invalid_candidates} cuts were not valid models), "
                 f"{self.seconds:.1f} s of {self.time_limit:.0f} s"]
        lines += [f"  input {i['name']}: {i['dtype']} {i['shape']}" + (f" — {i['reason']}" if i.get("reason") else "")
                  for i in self.inputs]
        lines += [f"  profile: {describe_profile(p)}" for p in self.profiles]
        lines += [f"  {step}" for step in self.steps]
        if self.neighbour_nodes:
            lines.append(f"  passing neighbour: {len(self.neighbour_nodes)} nodes (without "
                         f"{', '.join(sorted(set(self.reduced_nodes) - set(self.neighbour_nodes)))})")
        return "\n".join(lines)


class _OutOfTime(Exception):
    pass


class _Search:
    """The oracle with a memo, a call count, the time limit and the passing cuts seen."""

    def __init__(self, maker: CandidateMaker, oracle: Oracle, target: Failure, deadline: float,
                 cancel: CancelToken, progress: ProgressFn, total: int):
        self.maker, self.oracle, self.target = maker, oracle, target
        self.deadline, self.cancel, self.progress, self.total = deadline, cancel, progress, total
        self.memo: dict[frozenset[int], bool] = {}
        self.calls = 0
        self.passing: list[frozenset[int]] = []
        self.smallest: frozenset[int] = frozenset(maker.active)

    def same_failure(self, failures: list[Failure]) -> bool:
        return any(f.signature == self.target.signature for f in failures)

    def fails(self, kept) -> bool:
        kept = frozenset(kept)
        if kept in self.memo:
            return self.memo[kept]
        if self.cancel.cancelled or time.monotonic() > self.deadline:
            raise _OutOfTime
        candidate = self.maker.make(kept)
        verdict = False
        if candidate is not None:
            self.calls += 1
            try:
                verdict = self.same_failure(self.oracle.check(candidate))
            except WorkbenchError as exc:
                if self.cancel.cancelled:
                    raise _OutOfTime from exc
                self.maker.invalid += 1  # e.g. onnxruntime refuses the cut: not a candidate
        self.memo[kept] = verdict
        if verdict and len(kept) < len(self.smallest):
            self.smallest = kept
            self.progress(f"Reducing: {len(kept)} of {self.total} nodes still fail the same way "
                          f"({self.calls} checks)", None)
        elif not verdict and candidate is not None:
            self.passing.append(kept)
        return verdict


def _named_node_alone(search: _Search, nodes: list[int]) -> list[int]:
    """The node the failure names, alone (one check): when that fails the same way nothing else is needed."""
    graph_nodes = search.maker.proto.graph.node
    named = [i for i in nodes if search.target.node and graph_nodes[i].name == search.target.node]
    return named if named and search.fails(named) else nodes


def _cut_from_outputs(search: _Search, nodes: list[int]) -> list[int]:
    low, high = 1, len(nodes)  # the whole list fails
    while low < high:
        middle = (low + high) // 2
        if search.fails(nodes[:middle]):
            high = middle
        else:
            low = middle + 1
    prefix = nodes[:high]
    needed = sorted(search.maker.ancestors(prefix[-1]))
    return needed if len(needed) < len(prefix) and search.fails(needed) else prefix


def _cut_from_inputs(search: _Search, nodes: list[int]) -> list[int]:
    low, high = 0, len(nodes) - 1  # starting at 0 fails
    while low < high:
        middle = (low + high + 1) // 2
        if search.fails(nodes[middle:]):
            low = middle
        else:
            high = middle - 1
    return nodes[low:]


def _ddmin(search: _Search, nodes: list[int]) -> list[int]:
    chunks = 2
    while len(nodes) >= 2:
        size = len(nodes) / chunks
        parts = [nodes[int(i * size):int((i + 1) * size)] for i in range(chunks)]
        reduced = False
        if chunks > 2:  # with two chunks, a chunk is the other's complement
            for part in parts:
                if part and search.fails(part):
                    nodes, chunks, reduced = part, 2, True
                    break
        if not reduced:
            for part in parts:
                complement = [n for n in nodes if n not in set(part)]
                if part and complement and search.fails(complement):
                    nodes, chunks, reduced = complement, max(chunks - 1, 2), True
                    break
        if not reduced:
            if chunks >= len(nodes):
                break
            chunks = min(len(nodes), chunks * 2)
    return nodes


def _names(proto: onnx.ModelProto) -> frozenset[str]:
    names = set()
    for node, _parent in iter_nodes(proto.graph):
        names.add(node.name)
        names.update(node.input)
        names.update(node.output)
    names.update(v.name for v in list(proto.graph.input) + list(proto.graph.output))
    return frozenset(n for n in names if n)


def _observed_values(model: LoadedModel, feeds: dict[str, np.ndarray], names: list[str],
                     notes: list[str]) -> dict[str, np.ndarray]:
    """The original's tensors ``names`` under onnxruntime on ``feeds`` (with the feeds), or just the feeds when
    onnxruntime cannot run it (the candidates' types then come from shape inference alone)."""
    try:
        with OnnxruntimeRunner(model, extra_outputs=names) as runner:
            values = runner.run(feeds)
    except WorkbenchError as exc:
        notes.append(f"onnxruntime could not run the original ({exc.message}); boundary types come from shape "
                     "inference alone")
        values = {}
    return {**values, **feeds}


def _pick_target(failures: list[Failure], spec: ProblemSpec, stage: FailureStage) -> Failure | None:
    for failure in failures:
        if failure.signature.stage != stage:
            continue
        if spec.kind and spec.kind != COMPARE_KIND and stage == FailureStage.BUILD and failure.kind != spec.kind:
            continue
        if spec.node and failure.node and failure.node != spec.node:  # a failure that names no node may be it
            continue
        return failure
    return None


def _prepare(model: LoadedModel, proto: onnx.ModelProto, test_proto: onnx.ModelProto | None,
             profiles: list[Profile] | None, backend: Backend, progress: ProgressFn,
             cancel: CancelToken) -> tuple[list[Profile], list[str], CandidateMaker]:
    """The profiles builds use (the user's, or the shape service's as the trial build picks them) with their
    reasons, and the candidate maker with every tensor typed at the profile's opt shapes."""
    progress("Choosing realistic shapes", None)
    used_profiles, shape_reasons, _suggestion = trial_profiles(model, profiles, cancel, backend)
    opt = {name: r.opt for name, r in used_profiles[0].shapes.items()} if used_profiles else {}
    feeds = suggested_feeds(model, shapes=opt)
    shapes = {name: tuple(array.shape) for name, array in feeds.items()}
    inferred = realistic_types(proto, shapes, {})
    all_outputs = [o for node in proto.graph.node for o in node.output if o]
    # Comparisons feed every boundary the original's values; otherwise only what shape inference cannot type.
    wanted = all_outputs if test_proto is not None else [n for n in all_outputs if not is_static(inferred.get(n))]
    progress("Running the original under onnxruntime for the boundary tensors", None)
    notes: list[str] = []
    observed = _observed_values(model, feeds, wanted, notes)
    maker = CandidateMaker(proto, realistic_types(proto, shapes, observed), observed, test_proto)
    return used_profiles, shape_reasons + notes, maker


def _find_target(maker: CandidateMaker, problem: ProblemSpec, names: frozenset[str], profiles: list[Profile],
                 tolerances: Tolerances | None, backend: Backend, progress: ProgressFn,
                 cancel: CancelToken) -> tuple[Failure, Oracle, int]:
    """The failure to reduce, as the original shows it, the oracle that saw it and the checks it took."""
    stages = [problem.stage] if problem.stage else [FailureStage.PARSE, FailureStage.BUILD] + (
        [FailureStage.COMPARE] if maker.test_proto is not None else [])
    whole = maker.make(maker.active)
    if whole is None:
        raise WorkbenchError("The model cannot be cut into checked sub-models (onnx.checker with shape inference "
                             "rejects it as a whole).", "Run fold-constants or fix the model's types first.")
    seen: list[Failure] = []
    for calls, stage in enumerate(stages, start=1):
        progress(f"Checking the original ({stage})", None)
        oracle = _oracle(stage, backend, names, profiles, tolerances, cancel)
        failures = oracle.check(whole)
        seen += failures
        target = _pick_target(failures, problem, stage)
        if target is not None:
            return target, oracle, calls
        if failures and problem.stage is None:
            break  # the first stage that fails is the one to reduce
    what = f"{problem.kind}{':' + problem.node if problem.node else ''}" if problem.kind else "any failure"
    found = "; ".join(f.signature.text() for f in seen[:3]) or "it passes every check"
    raise WorkbenchError(f"The model does not show {what} to reduce ({found}).",
                         "Choose a problem the model has (trt-workbench analyze MODEL --build lists them).")


def reduce_model(model: LoadedModel, problem: ProblemSpec | None = None, *, against: LoadedModel | None = None,
                 tolerances: Tolerances | None = None, profiles: list[Profile] | None = None,
                 time_limit: float = DEFAULT_TIME_LIMIT_SECONDS, backend: Backend | None = None,
                 progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> ReduceResult:
    """The smallest cut of ``model`` that fails like the chosen problem (by default: the parser's first error,
    else the builder's, else — with ``against``, the model under test — the comparison).

    Raises ``WorkbenchError`` when the model does not show the failure to reduce and ``Cancelled`` when cancelled.
    """
    started = time.monotonic()
    backend = backend or load_backend()
    cancel = cancel or CancelToken()
    problem = problem or ProblemSpec()
    proto = model.full_proto()
    names = _names(proto)
    if problem.stage == FailureStage.COMPARE and against is None:
        raise WorkbenchError("An accuracy problem needs the model under test.",
                             "Give it with --against MODEL2 (e.g. the perturbed or converted copy).")
    test_proto = against.full_proto() if against is not None else None
    if test_proto is not None and [n.op_type for n in test_proto.graph.node] != [n.op_type for n in proto.graph.node]:
        raise WorkbenchError("The model under test does not have the same nodes as the reference.",
                             "Reduce against a copy with the same graph (perturbed weights, a changed attribute); "
                             "a conversion that inserts nodes cannot be cut the same way.")

    used_profiles, shape_reasons, maker = _prepare(model, proto, test_proto, profiles, backend, progress, cancel)
    total = len(maker.active)
    target, oracle, calls = _find_target(maker, problem, names, used_profiles, tolerances, backend, progress, cancel)

    search = _Search(maker, oracle, target, started + time_limit, cancel, progress, total)
    search.calls = calls
    nodes, steps, stopped = list(maker.active), [], False
    try:
        strategies = [("the node the failure names, alone", _named_node_alone)] if target.node else []
        strategies += [("cut from the outputs", _cut_from_outputs), ("cut from the inputs", _cut_from_inputs),
                       ("delta debugging", _ddmin)]
        for label, strategy in strategies:
            if len(nodes) == 1:
                break  # one node: nothing left to cut
            progress(f"Reducing: {label}", None)
            before = len(nodes)
            nodes = strategy(search, nodes)
            steps.append(f"{label}: {before} → {len(nodes)} nodes (after {search.calls} checks)")
    except _OutOfTime:
        cancel.raise_if_cancelled("The reduction")
        stopped = True
        nodes = sorted(search.smallest)
        steps.append(f"stopped: the time limit of {time_limit:.0f} s ran out after {search.calls} checks; the "
                     "smallest failing model so far is kept")
    final = maker.make(nodes)
    assert final is not None, "the kept nodes were cut into a valid model when they were found failing"
    final_failures = oracle.check(final)
    search.calls += 1
    still_fails = search.same_failure(final_failures)
    status, message = _verdict(still_fails, stopped, len(nodes), total, maker.invalid)
    graph_nodes = proto.graph.node
    neighbour_set = max((p for p in search.passing if p < frozenset(nodes)), key=len, default=None)
    neighbour = maker.make(neighbour_set) if neighbour_set else None
    result = ReduceResult(
        status, message, target, total, LoadedModel.from_proto(final.proto),
        [node_label(graph_nodes[i]) for i in nodes], [graph_nodes[i].op_type for i in nodes],
        _input_rows(final, shape_reasons), final.outputs,
        oracle.profiles_for(final) if isinstance(oracle, BuildOracle) else [], shape_reasons,
        search.calls, maker.invalid, time.monotonic() - started, time_limit, steps, final_failures,
        LoadedModel.from_proto(neighbour.proto) if neighbour else None,
        [node_label(graph_nodes[i]) for i in sorted(neighbour.kept)] if neighbour else [],
        backend=f"{backend.name} {backend.version}")
    if isinstance(oracle, CompareOracle):
        assert final.test_proto is not None, "a comparison's candidates cut the model under test too"
        result.reduced_test = LoadedModel.from_proto(final.test_proto)
        result.feeds = final.feeds
        result.reference_outputs = oracle.outputs(final.proto, final.feeds)
        result.tolerances = oracle.tolerances
    return result


def _verdict(still_fails: bool, stopped: bool, kept: int, total: int, invalid: int) -> tuple[ReduceStatus, str]:
    if not still_fails:
        return ReduceStatus.FLAKY, ("Not reducible: the failure did not show again when re-checked (flaky); the model "
                                    f"kept has {kept} of {total} nodes.")
    if stopped:
        return ReduceStatus.STOPPED_EARLY, (f"Stopped early: the smallest model found so far has {kept} of {total} "
                                            "nodes and fails the same way.")
    if kept == total:
        why = (f"{invalid} cuts were not valid models (tensors whose type neither shape inference nor onnxruntime "
               "can tell, e.g. after a custom op)." if invalid else "the failure needs the whole graph.")
        return ReduceStatus.NOT_REDUCIBLE, (f"Not reducible: no smaller cut of the {total} nodes fails the same way "
                                            f"(checked the original again: it still fails); {why}")
    return ReduceStatus.REDUCED, f"Reduced {total} nodes to {kept} that fail the same way (checked again)."


def _oracle(stage: FailureStage, backend: Backend, names: frozenset[str], profiles: list[Profile],
            tolerances: Tolerances | None, cancel: CancelToken) -> Oracle:
    if stage == FailureStage.PARSE:
        return ParseOracle(backend, names)
    if stage == FailureStage.BUILD:
        return BuildOracle(backend, names, profiles, cancel)
    return CompareOracle(tolerances or Tolerances())


def _input_rows(candidate: Candidate, shape_reasons: list[str]) -> list[dict]:
    rows = []
    for value in candidate.proto.graph.input:
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
        boundary = value.name in candidate.boundary
        reason = ("computed by the removed nodes; its shape is the one it has when the original runs at the "
                  "realistic shapes" if boundary else "; ".join(shape_reasons) if any(isinstance(d, str) for d in shape)
                  else "")
        rows.append({"name": value.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
                     "shape": shape, "boundary": boundary, "reason": reason})
    return rows
