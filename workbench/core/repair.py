"""Repair search: find a sequence of catalogue fixes (and/or a profile) that makes the model build.

Starting from what the trial build and the detectors report, each candidate step is applied to a
copy of the model, checked against the original under onnxruntime (parity) where it can run, and
trial-built. The search goes breadth-first, so the shortest sequence wins, and it stops at the
first sequence that builds and keeps parity. A sequence is only extended when its last step
changed what the builder says, which keeps the search small.

Meaning is never changed silently: a step whose fix changes it (``Fix.changes_meaning``: it freezes an
input, fixes a shape, cuts outputs, swaps an op for a plugin) or that moves outputs beyond tolerance carries
a ``confirm`` text, and the CLI (``--accept-changes``) and the window ask before applying it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from workbench.core.backend import Backend
from workbench.core.runtime import load_backend
from workbench.core.build.engine import BuildSettings
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import FixResult, apply_fix, make_step
from workbench.core.fixes.base import FixStep
from workbench.core.fixes.detect import detect_problems, suggest_fixes
from workbench.core.fixes.registry import get_fix, suggested_params
from workbench.core.model.loading import LoadedModel
from workbench.core.model.switches import default_values
from workbench.core.compare.parity import BEYOND, CANNOT_JUDGE, ParityResult, check_parity
from workbench.core.problems import NamedValue, Problem, ProblemKind, severity_rank
from workbench.core.shapes.profiles import Profile, describe_profile, profiles_to_recipe
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.recipe import Recipe
from workbench.core.shapes.suggest import known_shapes
from workbench.core.split.partition import supported_boundary
from workbench.core.build.trial import TrialBuild, trial_build, trial_profiles

DEFAULT_BUDGET_SECONDS = 120.0
MAX_DEPTH = 4  # e.g. freeze a switch, fold with onnxslim, make a recurrent state static, a profile


class RepairStatus(NamedValue):
    NOTHING_TO_REPAIR = "nothing-to-repair"
    REPAIRED = "repaired"
    CHANGES_OUTPUTS = "builds-but-changes-outputs"
    # It builds, but only with dims no evidence or run backs (a fallback 1, an unchecked guess): not "repaired".
    ASSUMED_SHAPES = "builds-at-assumed-shapes"
    NOT_FOUND = "not-found"
    OUT_OF_TIME = "out-of-time"
    SPLIT_OFFERED = "split-offered"  # no sequence makes the whole model build; a split runs it in two runtimes


NOTHING_TO_REPAIR, REPAIRED, CHANGES_OUTPUTS, ASSUMED_SHAPES, NOT_FOUND, OUT_OF_TIME, SPLIT_OFFERED = RepairStatus

_FOLD_REASON = ("Folding constants hands the parser a simpler graph (shapes and branches that only depend on "
                "constants are computed ahead of time).")


@dataclass
class RepairStep:
    reason: str  # why this step was needed
    fix: FixStep | None = None
    profiles: list[Profile] = field(default_factory=list)  # one per workload; with ``fix``: built after it
    assumed: list[str] = field(default_factory=list)  # dims of those profiles that nothing confirmed, with why
    parity: ParityResult | None = None  # the model after this step vs the original
    confirm: str = ""  # why the user must confirm it; empty when the model's meaning is kept

    @property
    def title(self) -> str:
        profiles = "optimization profile" + ("s" if len(self.profiles) > 1 else "") + \
            f" ({' | '.join(describe_profile(p) for p in self.profiles)})"
        if self.fix is None:
            return profiles
        return self.fix.spec() + (f" + {profiles}" if self.profiles else "")

    def to_dict(self) -> dict:
        return {"title": self.title, "kind": "fix" if self.fix else "profile", "reason": self.reason,
                "fix": self.fix.to_dict() if self.fix else None,
                "profiles": [p.to_dict() for p in self.profiles], "assumed": self.assumed,
                "parity": self.parity.to_dict() if self.parity else None, "confirm": self.confirm}


@dataclass
class _State:
    model: LoadedModel
    steps: list[RepairStep]
    fix_results: list[FixResult]
    profiles: list[Profile]
    frozen: dict
    trial: TrialBuild

    def titles(self) -> list[str]:
        return [s.title for s in self.steps]


@dataclass
class RepairResult:
    status: str
    message: str
    original: LoadedModel
    model: LoadedModel  # the repaired model (the original when nothing changed the graph)
    steps: list[RepairStep] = field(default_factory=list)
    fix_results: list[FixResult] = field(default_factory=list)  # for applying the fixes undoably
    profiles: list[Profile] = field(default_factory=list)
    problems_before: list[Problem] = field(default_factory=list)
    trial: TrialBuild | None = None  # the final sequence's build
    tried: list[str] = field(default_factory=list)  # every sequence tried, with its outcome
    seconds: float = 0.0

    @property
    def found(self) -> bool:
        return self.status in (REPAIRED, CHANGES_OUTPUTS)

    @property
    def needs_confirmation(self) -> list[RepairStep]:
        return [s for s in self.steps if s.confirm]

    @property
    def parity(self) -> ParityResult | None:
        return next((s.parity for s in reversed(self.steps) if s.parity is not None), None)

    def recipe(self) -> Recipe:
        return Recipe(fixes=[r.step.to_dict() for r in self.fix_results], profiles=profiles_to_recipe(self.profiles),
                      source_model=str(self.original.path or ""))

    def to_dict(self) -> dict:
        return {"status": self.status, "message": self.message, "steps": [s.to_dict() for s in self.steps],
                "needs_confirmation": [s.title for s in self.needs_confirmation],
                "parity": self.parity.to_dict() if self.parity else None,
                "problems_before": [p.to_dict() for p in self.problems_before],
                "build": self.trial.to_dict() if self.trial else None, "recipe": self.recipe().to_dict(),
                "tried": self.tried, "seconds": round(self.seconds, 3)}

    def describe(self) -> str:
        """The outcome and each step: why, its parity against the original, how it changes meaning."""
        lines = [self.message]
        for index, step in enumerate(self.steps, 1):
            lines += [f"{index}. {step.title}", f"   why: {step.reason}"]
            if step.parity:
                lines.append(f"   parity: {step.parity.text}")
            if step.confirm:
                lines.append(f"   changes meaning: {step.confirm}")
        return "\n".join(lines)


def _param_choices(name: str, model: LoadedModel, problem: Problem, input_values: dict) -> list[tuple[dict, str]]:
    """(params, extra reason) for each way to apply fix ``name`` to ``problem``."""
    if name == "fold-constants":
        return [({"engine": engine}, "") for engine in ("graphsurgeon", "onnxslim")]
    params = suggested_params(name, model, problem)
    if name != "freeze-input":
        return [(params, "")]
    target = params.get("input")
    if not target:
        return []
    if target in input_values:
        return [({**params, "value": input_values[target]}, f"Frozen at {input_values[target]}, the value you gave.")]
    return [({**params, "value": value}, f"Frozen at {value}, {source}.") for value, source in
            default_values(model, target)]


def _candidates(state: _State, input_values: dict, backend: Backend, cancel: CancelToken) -> list[RepairStep]:
    model = state.model
    candidates: list[RepairStep] = []
    build_problems = state.trial.problems
    detected = sorted(detect_problems(model, backend), key=severity_rank)
    if not state.profiles and any(p.kind == ProblemKind.NO_PROFILE for p in build_problems):
        profiles, assumed, suggestion = trial_profiles(model, cancel=cancel, backend=backend)
        if profiles:
            unbacked = [d.text() for d in suggestion.assumed] if suggestion is not None else []
            candidates.append(RepairStep(
                f"The builder needs an optimization profile for the dynamic input(s); "
                f"{'these' if len(profiles) > 1 else 'this one'} ({'; '.join(assumed)}) "
                "lets it build without changing the graph.", profiles=profiles, assumed=unbacked))
            for shared in (p for p in detected if p.kind == ProblemKind.SHARED_DIM_NAME):
                # TensorRT forces the dims equal, which no realistic profile makes them: rename them with it.
                candidates.append(RepairStep(f"{shared.message} {shared.hint}", fix=make_step("rename-dims"),
                                             profiles=profiles, assumed=unbacked))
            # Some builders refuse several profiles that each build alone.
            if len(profiles) > 1 and suggestion is not None:
                covering = suggestion.profile()
                covering.values = dict(profiles[0].values)
                candidates.append(RepairStep(
                    "One optimization profile covering every workload, for builders that refuse the workloads' "
                    "profiles together in one engine.", profiles=[covering], assumed=unbacked))
    for name, value in input_values.items():
        candidates.append(RepairStep(f"You gave a value for '{name}'; freezing it at {value} bakes it into the graph.",
                                     fix=make_step("freeze-input", {"input": name, "value": value})))
    for problem in [*build_problems, *detected]:
        names = list(problem.fixes or suggest_fixes(model, problem))
        if problem.kind == ProblemKind.NO_PROFILE:
            names.append("set-input-shape")  # static shapes from the profile's opt: after the profile itself
        for name in names:
            for params, extra in _param_choices(name, model, problem, input_values):
                try:
                    step = make_step(name, params)
                except WorkbenchError:
                    continue  # the suggestion lacks a value this problem cannot supply
                reason = f"{problem.message} {get_fix(name).title} answers it." + (f" {extra}" if extra else "")
                candidates.append(RepairStep(reason, fix=step))
    candidates += [RepairStep(_FOLD_REASON, fix=make_step("fold-constants", {"engine": engine}))
                   for engine in ("graphsurgeon", "onnxslim")]
    candidates += _cut_at_boundary(model, build_problems)
    candidates += _static_states(model, build_problems)
    unique, seen = [], {s.title for s in state.steps}
    for candidate in candidates:
        if candidate.title not in seen:
            seen.add(candidate.title)
            unique.append(candidate)
    return unique


def _refused_nodes(problems: list[Problem]) -> set[str]:
    return {p.parent or p.node for p in problems if p.severity == "error" and p.stage in ("parse", "build")
            and (p.parent or p.node)}


def _cut_at_boundary(model: LoadedModel, problems: list[Problem]) -> list[RepairStep]:
    """End the model where TensorRT stops taking it: the nodes the parser or builder refused, and everything
    after them, run outside the engine (e.g. a detector's NonZero/NMS post-processing)."""
    refused = _refused_nodes(problems)
    tensors = supported_boundary(model.proto.graph, refused) if refused else []
    outputs = [o.name for o in model.proto.graph.output]
    if not tensors or tensors == outputs:
        return []
    return [RepairStep(f"TensorRT refuses {', '.join(sorted(refused))} and everything after it; the part before "
                       f"builds, so the engine ends at {', '.join(tensors)} and the rest runs outside it "
                       "(e.g. in onnxruntime or your own code).",
                       fix=make_step("cut-outputs", {"tensors": tensors}))]


def _static_states(model: LoadedModel, problems: list[Problem]) -> list[RepairStep]:
    """A recurrent state input with a dynamic batch made static at its suggested shape: TensorRT handles
    a fixed [layers, batch, hidden] state where data-dependent ones stop the builder."""
    if not any(p.severity == "error" for p in problems):
        return []
    suggestion = known_shapes(model)
    shapes = suggestion.shapes()
    inputs = {t.name: t for t in model.summary().inputs}
    steps = []
    for name in suggestion.state_inputs:
        if not inputs[name].is_dynamic or name not in shapes:
            continue
        why = "; ".join(d.text() for d in suggestion.dims if any(use[0] == name for use in d.uses))
        steps.append(RepairStep(f"'{name}' is a recurrent state {inputs[name].shape_text()}; a static "
                                f"{'x'.join(map(str, shapes[name]))} state ({why}) spares the builder a dynamic one.",
                                fix=make_step("set-input-shape", {"input": name, "shape": list(shapes[name])})))
    return steps


def _try(state: _State, step: RepairStep, original: LoadedModel, settings: BuildSettings, backend: Backend,
         cancel: CancelToken) -> _State | str:
    """The state after ``step``, or why the step could not be applied."""
    model, fix_results, frozen, profiles = state.model, state.fix_results, state.frozen, state.profiles
    if step.fix is not None:
        try:
            result = apply_fix(model, step.fix, cancel=cancel)
        except WorkbenchError as exc:
            return f"cannot apply: {exc.message}"
        if result.preview.is_empty:
            return "changes nothing"
        model, fix_results, frozen = result.after, [*fix_results, result], {**frozen, **result.frozen_inputs}
        step.parity = check_parity(original, model, frozen_inputs=frozen, cancel=cancel)
        reasons = [step.fix.fix.changes_meaning] if step.fix.fix.changes_meaning else []
        if step.parity.verdict == BEYOND:
            reasons.append(f"outputs change: {step.parity.text}")
        elif step.parity.verdict == CANNOT_JUDGE:
            reasons.append(f"outputs change by an amount the tolerance cannot judge: {step.parity.text}")
        step.confirm = "; ".join(reasons)
    if step.profiles:
        profiles = step.profiles
    trial = trial_build(model, profiles, settings=settings, backend=backend, cancel=cancel, suggest=False)
    return _State(model, [*state.steps, step], fix_results, profiles, frozen, trial)


def _outcome(state: _State) -> str:
    if state.trial.succeeded:
        parity = state.steps[-1].parity
        return "builds" + (f", parity {parity.verdict}" if parity else "")
    first = state.trial.problems[0].message if state.trial.problems else "fails"
    return f"does not build: {first}"


def parse_input_values(items: list[str]) -> dict[str, str]:
    """``["downsample_ratio=0.25", …]`` → ``{"downsample_ratio": "0.25"}``, refusing malformed items."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise WorkbenchError(f"Cannot read the input value {item!r}.",
                                 "Write it as NAME=VALUE, e.g. downsample_ratio=0.25.")
        values[name.strip()] = value.strip()
    return values


def repair_model(model: LoadedModel, *, input_values: dict | None = None, profiles: list[Profile] | None = None,
                 settings: BuildSettings | None = None, backend: Backend | None = None,
                 budget_seconds: float = DEFAULT_BUDGET_SECONDS, max_depth: int = MAX_DEPTH,
                 progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> RepairResult:
    """Search for the shortest fix sequence (and/or profile) that builds and keeps parity.

    ``input_values`` (input name → value) are used to freeze switch inputs before the model's own
    defaults. Raises ``Cancelled`` when cancelled; the time budget ends the search with ``OUT_OF_TIME``.
    """
    started = time.perf_counter()
    deadline = started + budget_seconds
    backend = backend or load_backend()
    settings = settings or BuildSettings()
    cancel = cancel or CancelToken()
    input_values = dict(input_values or {})
    known = {t.name for t in model.summary().inputs}
    unknown = sorted(set(input_values) - known)
    if unknown:
        raise WorkbenchError(f"The model has no input named {', '.join(repr(n) for n in unknown)}.",
                             f"Its inputs are: {', '.join(sorted(known)) or 'none'}.")
    for name, value in input_values.items():
        freeze = make_step("freeze-input", {"input": name, "value": value})
        get_fix("freeze-input").check_params(model, freeze.param_dict)
    progress("Trial build of the model as it is", 0.0)
    first = trial_build(model, profiles, settings=settings, backend=backend, cancel=cancel, suggest=False)
    start = _State(model, [], [], list(profiles or []), {}, first)

    def result(status: str, message: str, state: _State, tried: list[str]) -> RepairResult:
        return RepairResult(status, message, model, state.model, state.steps, state.fix_results, state.profiles,
                            first.problems, state.trial, tried, time.perf_counter() - started)

    def best_effort(fallback: _State | None, ending: str) -> RepairResult:
        if fallback is not None:
            return result(CHANGES_OUTPUTS, "The only sequence found that builds changes the outputs beyond "
                                           f"tolerance: {' → '.join(fallback.titles())}.", fallback, tried)
        refused = _refused_nodes(first.problems)
        boundary = supported_boundary(model.proto.graph, refused) if refused else []
        if boundary:  # the part before the refused nodes is TensorRT's: offer the split instead of giving up
            ended = f"within {budget_seconds:g} s" if ending == OUT_OF_TIME else "among the catalogue fixes"
            return result(SPLIT_OFFERED, f"No sequence {ended} makes the whole model build ({len(tried)} tried), "
                                         f"but TensorRT takes the part before {', '.join(sorted(refused))}: split "
                                         f"it there (at {', '.join(boundary)}) and run the rest under onnxruntime "
                                         "(Repair → Split for TensorRT…, or trt-workbench split MODEL -o DIR, "
                                         "builds the engine and checks the chained outputs).", start, tried)
        if ending == OUT_OF_TIME:
            return result(OUT_OF_TIME, f"No repair found within {budget_seconds:g} s ({len(tried)} sequence(s) "
                                       "tried).", start, tried)
        return result(NOT_FOUND, f"No sequence of catalogue fixes made the model build ({len(tried)} tried).",
                      start, tried)

    if first.succeeded:
        return result(NOTHING_TO_REPAIR, "The model builds as it is: nothing to repair.", start, [])
    tried: list[str] = []
    fallback: _State | None = None
    frontier = [start]
    for _depth in range(max_depth):
        expanded = []
        for state in frontier:
            for step in _candidates(state, input_values, backend, cancel):
                cancel.raise_if_cancelled("The repair search")
                if time.perf_counter() >= deadline:
                    return best_effort(fallback, OUT_OF_TIME)
                sequence = " → ".join([*state.titles(), step.title])
                progress(f"Trying {sequence} ({len(tried) + 1} tried)",
                         min((time.perf_counter() - started) / budget_seconds, 1.0))
                after = _try(state, step, model, settings, backend, cancel)
                if isinstance(after, str):
                    tried.append(f"{sequence}: {after}")
                    continue
                tried.append(f"{sequence}: {_outcome(after)}")
                if after.trial.succeeded and not (step.parity and step.parity.verdict == BEYOND):
                    assumed = [text for s in after.steps for text in s.assumed]
                    if assumed:
                        return result(ASSUMED_SHAPES, f"Builds with {sequence}, but only at shapes nothing confirmed: "
                                                      f"{'; '.join(assumed)}. Set these dims (Profiles panel, "
                                                      "--opt-shapes or a recipe) and repair again.", after, tried)
                    return result(REPAIRED, f"Found a repair in {len(after.steps)} step(s): {sequence}.", after, tried)
                if after.trial.succeeded:
                    fallback = fallback or after
                elif {p.message for p in after.trial.problems} != {p.message for p in state.trial.problems}:
                    expanded.append(after)
        frontier = expanded
    return best_effort(fallback, NOT_FOUND)
