"""Does the test side compute what the reference computes, and where does it start to differ?

``compare_runners`` runs two runners on the same inputs and measures every output;
``run_comparison`` is the whole job the CLI and the compare panel ask for (inputs → runners →
metrics → optional timing and layerwise bisect). ``bisect_models`` marks intermediate tensors as
outputs on both sides and finds the first node, in graph order, whose output diverges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Callable

import numpy as np

from workbench.core.backend import Backend
from workbench.core.errors import WorkbenchError
from workbench.core.compare.inputs import InputSpec, input_line, make_inputs
from workbench.core.compare.metrics import DEFAULT_TOP_K, OutputComparison, Tolerances, Verdict, compare_arrays
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.model.switches import other_branch_values
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.shapes.suggest import switch_values, workload_points
from workbench.core.runners import (OnnxruntimeRunner, Runner, TensorRTRunner, model_for_child, model_in_child,
                                             onnxruntime_child, runs_in_child)
from workbench.core.compare.timing import DEFAULT_WARMUP, Timing, time_runner

# Up to this many intermediate tensors are checked in one run; more are searched in rounds that
# probe this many evenly spaced tensors each (a k-ary bisection), which bounds memory on big models.
ALL_AT_ONCE_LIMIT = 64
AGAINST_CHOICES = ("model", "engine")


@dataclass
class CompareSettings:
    """What to compare against and how strictly; stored as the recipe's ``[compare]`` section."""

    against: str = "model"  # "model": ORT vs ORT (original vs current); "engine": ORT vs a TensorRT engine
    engine_path: str = ""
    against_model: str = ""  # the test model's file, when not given in memory
    tolerances: Tolerances = field(default_factory=Tolerances)
    top_k: int = DEFAULT_TOP_K
    profile_index: int = 0
    timing_runs: int = 0  # 0: no timing
    warmup: int = DEFAULT_WARMUP
    bisect: bool = False

    def to_dict(self) -> dict:
        data = {"against": self.against, **self.tolerances.to_dict(), "top_k": self.top_k,
                "timing_runs": self.timing_runs, "warmup": self.warmup, "bisect": self.bisect}
        for key in ("engine_path", "against_model"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        if self.profile_index:
            data["profile_index"] = self.profile_index
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CompareSettings":
        against = data.get("against", "model")
        if against not in AGAINST_CHOICES:
            raise WorkbenchError(f"The recipe's [compare] section has against = {against!r}.",
                                 f"Use one of: {', '.join(AGAINST_CHOICES)}.")
        try:
            return cls(against=against, engine_path=str(data.get("engine_path", "")),
                       against_model=str(data.get("against_model", "")), tolerances=Tolerances.from_dict(data),
                       top_k=int(data.get("top_k", DEFAULT_TOP_K)), profile_index=int(data.get("profile_index", 0)),
                       timing_runs=int(data.get("timing_runs", 0)), warmup=int(data.get("warmup", DEFAULT_WARMUP)),
                       bisect=bool(data.get("bisect", False)))
        except (TypeError, ValueError) as exc:
            raise WorkbenchError(f"The recipe's [compare] section is malformed: {exc}.",
                                 "Fix the section or set the comparison again in the app.") from exc


@dataclass
class BisectResult:
    node: str  # the first diverging node's name ("" when no intermediate tensor diverges)
    node_index: int  # its position in the graph's node list (-1 when none)
    op: str
    tensor: str  # the output tensor of that node that diverged
    comparison: OutputComparison | None
    runs: int  # paired runs it took
    checked: int  # intermediate tensors compared
    candidates: int  # tensors both models have in common
    message: str

    @property
    def found(self) -> bool:
        return self.node_index >= 0

    def to_dict(self) -> dict:
        data = {k: getattr(self, k) for k in ("node", "node_index", "op", "tensor", "runs", "checked", "candidates",
                                              "message")}
        data["comparison"] = self.comparison.to_dict() if self.comparison else None
        return data


@dataclass
class CompareResult:
    reference: str  # runner labels
    test: str
    inputs: list[dict]
    outputs: list[OutputComparison]
    tolerances: Tolerances
    notes: list[str] = field(default_factory=list)
    missing_outputs: list[str] = field(default_factory=list)  # reference outputs the test side lacks
    timing: list[Timing] = field(default_factory=list)
    bisect: BisectResult | None = None
    # output name → (reference array, test array), for plots; never serialised.
    arrays: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> Verdict:
        """PASS only when every output passes and none is missing; any FAIL fails the whole."""
        verdicts = {o.verdict for o in self.outputs}
        if self.missing_outputs or Verdict.FAIL in verdicts:
            return Verdict.FAIL
        if not self.outputs or Verdict.CANNOT_JUDGE in verdicts:
            return Verdict.CANNOT_JUDGE
        return Verdict.PASS

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    @property
    def reason(self) -> str:
        total = len(self.outputs) + len(self.missing_outputs)
        if not total:
            return "no output to compare"
        if self.passed:
            return f"all {total} output(s) pass"
        failed = [f"{o.name} ({o.reason})" for o in self.outputs if o.verdict is Verdict.FAIL]
        failed += [f"{name} (missing)" for name in self.missing_outputs]
        unjudged = [f"{o.name} ({o.reason})" for o in self.outputs if o.verdict is Verdict.CANNOT_JUDGE]
        parts = [f"{len(failed)} of {total} output(s) fail: {'; '.join(failed)}"] if failed else []
        if unjudged:
            parts.append(f"{len(unjudged)} of {total} output(s) the tolerance cannot judge: {'; '.join(unjudged)}")
        return ". ".join(parts)

    @property
    def summary(self) -> str:
        """The verdict and its reason in one line (the CLI's last line, the panel's headline)."""
        return f"{self.verdict}: {self.reason}"

    def to_dict(self) -> dict:
        return {"passed": self.passed, "verdict": str(self.verdict), "reason": self.reason,
                "reference": self.reference, "test": self.test,
                "tolerances": self.tolerances.to_dict(), "inputs": self.inputs,
                "outputs": [o.to_dict() for o in self.outputs], "missing_outputs": self.missing_outputs,
                "notes": self.notes, "timing": [t.to_dict() for t in self.timing],
                "bisect": self.bisect.to_dict() if self.bisect else None}

    def headline(self) -> str:
        """What was compared, the verdict and the notes (the panel's verdict box)."""
        return "\n".join([f"{self.reference}  vs  {self.test}", self.summary, *self.notes])

    def describe(self) -> str:
        """Inputs, a table of the outputs' errors with verdicts and reasons, timing, bisection, notes, verdict."""
        lines = [f"{self.reference}  vs  {self.test}"]
        lines += [input_line(i) for i in self.inputs]
        lines.append(f"  {'output':24} {'max|err|':>10} {'mean|err|':>10} {'max rel':>10} {'cosine':>9} "
                     f"{'outside':>8}  verdict")
        for o in self.outputs:
            counts = o.nan_ref + o.nan_test + o.inf_ref + o.inf_test
            extra = f"  NaN {o.nan_ref}/{o.nan_test} Inf {o.inf_ref}/{o.inf_test}" if counts else ""
            if o.top1_agreement is not None:
                extra += f"  top-1 {o.top1_agreement:.0%} top-{o.top_k} {o.topk_agreement:.0%}"
            lines.append(f"  {o.name:24} {o.max_abs:10.3g} {o.mean_abs:10.3g} {o.max_rel:10.3g} {o.cosine:9.6f} "
                         f"{o.outside_fraction:8.2%}  {o.verdict}{extra}")
            lines.append(f"  {'':24} reason: {o.reason}")
        lines += [f"  timing {t.describe()}" for t in self.timing]
        if self.bisect:
            lines.append(f"  bisect: {self.bisect.message}")
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(self.summary)
        return "\n".join(lines)


def feeds_for(runner: Runner, feeds: dict[str, np.ndarray], notes: list[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays ``runner`` takes, in the dtypes it declares (e.g. a float16 model's inputs)."""
    missing = [n for n in runner.input_names if n not in feeds]
    if missing:
        raise WorkbenchError(f"{runner.label} needs input(s) the data does not have: {', '.join(missing)}.",
                             "Both sides must take the same inputs; give data for these names.")
    selected = {}
    for name in runner.input_names:
        dtype = runner.input_dtype(name)
        selected[name] = feeds[name] if feeds[name].dtype == dtype else feeds[name].astype(dtype)
        if feeds[name].dtype != dtype and notes is not None:
            notes.append(f"Input '{name}' was cast from {feeds[name].dtype} to {dtype} for {runner.label}.")
    unused = sorted(set(feeds) - set(runner.input_names))
    if unused and notes is not None:
        notes.append(f"{runner.label} does not take input(s) {', '.join(unused)} (e.g. frozen by a fix); "
                     "they were left out for it.")
    return selected


def compare_runners(reference: Runner, test: Runner, feeds: dict[str, np.ndarray],
                    tolerances: Tolerances = Tolerances(), top_k: int = DEFAULT_TOP_K,
                    progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> CompareResult:
    notes: list[str] = []
    progress(f"Running {reference.label}", 0.1)
    ref_out = reference.run(feeds_for(reference, feeds, notes))
    if cancel is not None:
        cancel.raise_if_cancelled("The comparison")
    progress(f"Running {test.label}", 0.4)
    test_out = test.run(feeds_for(test, feeds, notes))
    progress("Measuring errors", 0.7)
    outputs, arrays = [], {}
    for name, ref_array in ref_out.items():
        if name not in test_out:
            continue
        atol, rtol = tolerances.for_output(name)
        outputs.append(compare_arrays(name, ref_array, test_out[name], atol, rtol, top_k=top_k,
                                      infinities_compare_equal=tolerances.infinities_compare_equal))
        arrays[name] = (ref_array, test_out[name])
    missing = [n for n in ref_out if n not in test_out]
    if missing:
        notes.append(f"{test.label} has no output(s) named {', '.join(missing)}: the comparison fails.")
    extra = [n for n in test_out if n not in ref_out]
    if extra:
        notes.append(f"{test.label} has extra output(s) {', '.join(extra)}; they are not compared.")
    return CompareResult(reference.label, test.label, [], outputs, tolerances, notes, missing, arrays=arrays)


# --- layerwise bisect --------------------------------------------------------------------------

RunnerFactory = Callable[[list[str]], Runner]  # extra output names → a runner that also returns them


def _node_outputs(model: LoadedModel) -> list[tuple[int, str, str, str]]:
    """(node index, node name, op, tensor) for every output of every top-level node, in graph order."""
    return [(i, node.name, node.op_type, tensor) for i, node in enumerate(model.proto.graph.node)
            for tensor in node.output if tensor]


def bisect_divergence(reference_factory: RunnerFactory, test_factory: RunnerFactory,
                      candidates: list[tuple[int, str, str, str]], feeds: dict[str, np.ndarray],
                      tolerances: Tolerances = Tolerances(), all_at_once_limit: int = ALL_AT_ONCE_LIMIT,
                      progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> BisectResult:
    """First candidate tensor (in graph order) whose values differ beyond tolerance.

    Up to ``all_at_once_limit`` candidates: one run with all of them marked, which finds the true
    first divergence. More: rounds that probe evenly spaced candidates and narrow to the range
    between the last agreeing and the first diverging probe; this assumes that once a tensor
    diverges, later ones do too (a Relu can hide a small difference, so the answer is then the
    first divergence the probes could see).
    """
    runs = checked = 0
    found: dict[int, OutputComparison] = {}

    def probe(indices: list[int]) -> int | None:
        nonlocal runs, checked
        if cancel is not None:
            cancel.raise_if_cancelled("The layerwise bisect")
        names = list(dict.fromkeys(candidates[i][3] for i in indices))
        reference, test = reference_factory(names), test_factory(names)
        try:
            ref_out = reference.run(feeds_for(reference, feeds))
            test_out = test.run(feeds_for(test, feeds))
        finally:
            reference.close()
            test.close()
        runs += 1
        checked += len(indices)
        for i in indices:
            tensor = candidates[i][3]
            atol, rtol = tolerances.for_output(tensor)
            comparison = compare_arrays(tensor, ref_out[tensor], test_out[tensor], atol, rtol, top_k=0,
                                        infinities_compare_equal=tolerances.infinities_compare_equal)
            if comparison.verdict is Verdict.FAIL:  # a tensor too small for atol is no evidence of divergence
                found[i] = comparison
                return i
        return None

    if not candidates:
        return BisectResult("", -1, "", "", None, 0, 0, 0, "The two models share no intermediate tensor names, "
                                                          "so they cannot be compared layer by layer.")
    low, high = 0, len(candidates) - 1
    limit = max(2, all_at_once_limit)
    first = None
    while True:
        progress(f"Bisecting: tensors {low + 1}–{high + 1} of {len(candidates)}", low / len(candidates))
        span = high - low + 1
        if span <= limit:
            first = probe(list(range(low, high + 1)))
            break
        step = span / limit
        picks = sorted({min(high, low + int(round(step * (k + 1))) - 1) for k in range(limit)})
        hit = probe(picks)
        if hit is None:
            break  # only possible in the first round: nothing diverges
        position = picks.index(hit)
        low = picks[position - 1] + 1 if position > 0 else low
        high = hit
    if first is None:
        return BisectResult("", -1, "", "", None, runs, checked, len(candidates),
                            "No intermediate tensor fails the comparison.")
    index, node, op, tensor = candidates[first]
    comparison = found[first]
    label = node or f"{op} #{index}"
    return BisectResult(node, index, op, tensor, comparison, runs, checked, len(candidates),
                        f"First divergence at node '{label}' ({op}, node {index}): output '{tensor}' has max |error| "
                        f"{comparison.max_abs:.3g}: {comparison.reason}.")


def bisect_models(reference: LoadedModel, test: LoadedModel, feeds: dict[str, np.ndarray],
                  tolerances: Tolerances = Tolerances(), all_at_once_limit: int = ALL_AT_ONCE_LIMIT,
                  progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> BisectResult:
    """Layerwise bisect between two ONNX models under onnxruntime (e.g. original vs fixed or float16)."""
    test_tensors = {t for _i, _n, _o, t in _node_outputs(test)}
    candidates = [c for c in _node_outputs(reference) if c[3] in test_tensors]
    return bisect_divergence(lambda names: OnnxruntimeRunner(reference, extra_outputs=names),
                             lambda names: OnnxruntimeRunner(test, extra_outputs=names),
                             candidates, feeds, tolerances, all_at_once_limit, progress, cancel)


# --- the whole job -----------------------------------------------------------------------------

def run_comparison(model: LoadedModel, settings: CompareSettings, input_spec: InputSpec | None = None,
                   backend: Backend | None = None, against: LoadedModel | None = None, profiles: Sequence[dict] = (),
                   progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> CompareResult:
    """onnxruntime on ``model`` (reference) against ``against`` (ORT vs ORT) or the settings' engine.

    ``profiles`` are the recipe's optimization profiles, for input specs that take shapes from one. Two
    large models (100 MB of weights or more) are compared in a child process, so the caller (the window)
    never holds onnxruntime's copies of their weights."""
    if settings.against != "engine" and runs_in_child(*[m for m in (model, against) if m is not None]):
        progress("Comparing under onnxruntime in a child process (large model)", None)
        return onnxruntime_child().call(
            _comparison_in_child, model_for_child(model), model_for_child(against) if against else None, settings,
            input_spec, list(profiles), cancel=cancel, what="The comparison")
    return _run_comparison(model, settings, input_spec, backend, against, profiles, progress, cancel)


def _comparison_in_child(model: tuple, against: tuple | None, settings: CompareSettings,
                         input_spec: InputSpec | None, profiles: list[dict]) -> CompareResult:
    return _run_comparison(model_in_child(*model), settings, input_spec, None,
                           model_in_child(*against) if against else None, profiles, no_progress, None)


def _run_comparison(model: LoadedModel, settings: CompareSettings, input_spec: InputSpec | None,
                    backend: Backend | None, against: LoadedModel | None, profiles, progress: ProgressFn,
                    cancel: CancelToken | None) -> CompareResult:
    prepared = make_inputs(model, input_spec, profiles)
    if settings.against != "engine" and against is None and settings.against_model:
        against = load_model(settings.against_model)
    reference = OnnxruntimeRunner(model, extra_outputs=_cut_outputs(model, against))
    test: Runner | None = None
    try:
        if settings.against == "engine":
            if not settings.engine_path:
                raise WorkbenchError("No engine file chosen to compare against.", "Build an engine or choose one.")
            if backend is None:
                raise WorkbenchError("Comparing an engine needs a TensorRT backend.", "Load a backend first.")
            progress("Loading the engine", 0.05)
            test = TensorRTRunner(settings.engine_path, backend, settings.profile_index)
        else:
            if against is None:
                if not settings.against_model:
                    raise WorkbenchError("No second model to compare against.",
                                         "Apply a fix first, or choose a model file to compare with.")
                against = load_model(settings.against_model)
            test = OnnxruntimeRunner(against)
        result = compare_runners(reference, test, prepared.arrays, settings.tolerances, settings.top_k,
                                 progress, cancel)
        result.inputs = prepared.describe()
        cut = _cut_outputs(model, against) if settings.against != "engine" else []
        if cut and result.missing_outputs:
            # The current model was cut (at a detector's raw outputs): what it computes is compared tensor for
            # tensor; the original's later outputs are gone by the fix's design, not by a mismatch.
            result.notes = [note for note in result.notes if not note.endswith(": the comparison fails.")]
            result.notes.append(f"The current model ends at {', '.join(cut)} (cut by a fix): compared there; the "
                                f"original's {', '.join(result.missing_outputs)} are after the cut.")
            result.missing_outputs = []
        _compare_other_branches(model, prepared, reference, test, settings, result, cancel)
        if input_spec is None or (not input_spec.data_files and not input_spec.images and not input_spec.shapes
                                  and input_spec.profile < 0):
            _compare_other_workloads(model, input_spec, reference, test, settings, result, cancel)
        if settings.timing_runs > 0:
            for index, runner in enumerate((reference, test)):
                result.timing.append(time_runner(runner, feeds_for(runner, prepared.arrays), settings.timing_runs,
                                                 settings.warmup, _scaled(progress, 0.75 + 0.1 * index, 0.1), cancel))
        if settings.bisect:
            if settings.against != "model":
                result.notes.append("The layerwise bisect runs between two ONNX models (original vs current); "
                                    "against an engine it would need per-tensor engine outputs and a GPU.")
            elif result.passed:
                result.notes.append("No bisect: every output passes.")
            else:
                assert against is not None  # loaded above: a model comparison has one
                result.bisect = bisect_models(model, against, prepared.arrays, settings.tolerances,
                                              progress=_scaled(progress, 0.95, 0.05), cancel=cancel)
    finally:
        reference.close()
        if test is not None:
            test.close()
    progress("Done", 1.0)
    return result


def _cut_outputs(model: LoadedModel, against: LoadedModel | None) -> list[str]:
    """Outputs of ``against`` that are intermediate tensors of ``model`` (a cut at a detector's raw outputs): the
    reference returns them too, so both sides are compared tensor for tensor, as the repair's parity does."""
    if against is None:
        return []
    own = {t.name for t in model.summary().outputs}
    produced = {name for node in model.proto.graph.node for name in node.output}
    return [t.name for t in against.summary().outputs if t.name not in own and t.name in produced]


def _compare_other_branches(model: LoadedModel, prepared, reference: Runner, test: Runner, settings: CompareSettings,
                            result: CompareResult, cancel: CancelToken | None) -> None:
    """A switch input fed the model's own value (the deployment path) leaves the other branches of the If it
    steers unrun, so a difference there would pass unseen: compare once more on each side of its threshold.
    Their outputs join the result as ``output [input=value]`` and count in the verdict."""
    fed_by_us = {name for name, value in switch_values(model).items()
                 if prepared.sources.get(name) == value.text()}  # not the user's data
    for name in sorted(fed_by_us):
        for value, why in other_branch_values(model, name):
            feeds = dict(prepared.arrays)
            feeds[name] = np.full_like(feeds[name], value)
            label = f"{name}={value}"
            try:
                extra = compare_runners(reference, test, feeds, settings.tolerances, settings.top_k,
                                        no_progress, cancel)
            except WorkbenchError as exc:
                result.notes.append(f"Not compared at {label} ({why}): {exc.message}")
                continue
            _join(result, extra, label)
            result.notes.append(f"Also compared at {label} ({why}): the branch the model's own value "
                                f"{prepared.arrays[name].reshape(-1)[0]} may not take.")


def _compare_other_workloads(model: LoadedModel, input_spec: InputSpec | None, reference: Runner, test: Runner,
                             settings: CompareSettings, result: CompareResult, cancel: CancelToken | None) -> None:
    """Shapes the tool chose cover one workload (a decoder's decode step); compare each other workload's point
    too (its prefill), so a difference only the prompt step shows cannot pass. Outputs join the result as
    ``output [prefill]`` and count in the verdict."""
    seed = input_spec.seed if input_spec is not None else 0
    for label, shapes, values in workload_points(model):
        spec = InputSpec(seed=seed, shapes={n: list(s) for n, s in shapes.items()},
                         value_ranges={n: (float(v), float(v)) for n, v in values.items()})
        feeds = make_inputs(model, spec).arrays
        try:
            extra = compare_runners(reference, test, feeds, settings.tolerances, settings.top_k, no_progress, cancel)
        except WorkbenchError as exc:
            result.notes.append(f"Not compared at the {label} workload: {exc.message}")
            continue
        _join(result, extra, label)
        switches = "".join(f", {name} = {value}" for name, value in values.items())
        result.notes.append(f"Also compared at the {label} workload ({_shape_text(shapes)}{switches}).")


def _join(result: CompareResult, extra: CompareResult, label: str) -> None:
    """Another point's outputs join the result as ``output [label]`` and count in its verdict."""
    for output in extra.outputs:
        if output.name in extra.arrays:
            result.arrays[f"{output.name} [{label}]"] = extra.arrays[output.name]
        output.name = f"{output.name} [{label}]"
    result.outputs.extend(extra.outputs)
    result.missing_outputs.extend(f"{missing} [{label}]" for missing in extra.missing_outputs)


def _shape_text(shapes: dict) -> str:
    return ", ".join(f"{name} {'x'.join(map(str, shape))}" for name, shape in shapes.items())


def _scaled(progress: ProgressFn, start: float, width: float) -> ProgressFn:
    def scaled(phase: str, fraction: float | None = None) -> None:
        progress(phase, None if fraction is None else start + width * fraction)
    return scaled

