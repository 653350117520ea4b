"""Trial build: does the model really build, not just parse?

The parser's verdict ("fully supported") is not the builder's: some models parse and then stop the
builder (an op with no implementation, a missing optimization profile). A trial build runs the real
builder ahead of time (TensorRT-RTX builds without a GPU) in the isolated build child, writes no
engine file, and turns the builder's refusals into build-stage problems. Dynamic inputs get the
profiles the user gave or else suggested ones, and every assumed shape is stated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from workbench.core.backend import Backend
from workbench.core.build.engine import BuildResult, BuildSettings, build_engine
from workbench.core.memory import MemoryEstimate, estimate_build_memory
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem, ProblemKind, Severity, Stage
from workbench.core.analysis.support import find_shape_tensor_inputs
from workbench.core.shapes.profiles import Profile, ShapeRange, describe_profile, profiles_to_recipe, validate_profiles
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.shapes.dims import ShapeSuggestion
from workbench.core.shapes.suggest import suggest_shapes

# Parser errors the build child meets are already parse-stage problems of the analysis.
_PARSER_KIND = ProblemKind.PARSER_ERROR


@dataclass
class TrialBuild:
    succeeded: bool
    profiles: list[Profile]  # what the build used
    assumed: list[str] = field(default_factory=list)  # "H = 224 (probe: …)" per suggested dim, with its reason
    problems: list[Problem] = field(default_factory=list)  # every problem of the build (stage "build")
    seconds: float = 0.0
    result: BuildResult | None = None
    shapes: ShapeSuggestion | None = None  # the shape service's answer, when it chose the shapes
    retried: list[str] = field(default_factory=list)  # profiles tried before the one that built, with the outcome
    skipped: str = ""  # why the build did not run (it would not fit in memory)

    @property
    def stopped_at_parser(self) -> bool:
        return any(p.kind == _PARSER_KIND for p in self.problems)

    def triage_problems(self) -> list[Problem]:
        """What the triage list adds: builder refusals (the parser's are listed already), what the shape
        service found (a size baked at export, a dim nothing runs at) and the assumed shapes."""
        found = [p for p in self.problems if p.kind != _PARSER_KIND]
        if self.shapes is not None:
            found.extend(self.shapes.problems())
        if self.assumed:
            inputs = sorted({name for d in (self.shapes.dims if self.shapes else []) for name, _axis in d.uses})
            found.append(Problem(
                kind=ProblemKind.TRIAL_BUILD_SHAPES, severity=Severity.INFO, stage=Stage.BUILD, inputs=inputs,
                message=f"The trial build {'succeeded' if self.succeeded else 'ran'} with suggested shapes "
                        f"{' | '.join(describe_profile(p) for p in self.profiles)}: {'; '.join(self.assumed)}.",
                detail="\n".join(self.retried),
                hint="Give your own min/opt/max shapes in the Profiles panel; the trial build uses them next time."))
        return found

    def to_dict(self) -> dict:
        return {"succeeded": self.succeeded, "profiles": profiles_to_recipe(self.profiles), "assumed": self.assumed,
                "seconds": round(self.seconds, 3), "problems": [p.to_dict() for p in self.problems],
                "shapes": self.shapes.to_dict() if self.shapes else None, "retried": self.retried,
                "skipped": self.skipped}

    def describe(self) -> str:
        # The assumed shapes' reasons are in the trial-build-shapes note listed with the problems.
        if self.skipped:
            return f"Trial build: skipped ({self.skipped})"
        return (f"Trial build: {'succeeded' if self.succeeded else 'failed'} in {self.seconds:.2f} s"
                + (f" with {' | '.join(describe_profile(p) for p in self.profiles)}" if self.profiles else ""))


def trial_profiles(model: LoadedModel, profiles: list[Profile] | None = None, cancel: CancelToken | None = None,
                   backend: Backend | None = None) -> tuple[list[Profile], list[str], ShapeSuggestion | None]:
    """The user's profiles when they fit the model, else one profile from the shape service; plus what was
    assumed (each suggested dim and shape-tensor value with its source and reason) and the suggestion.

    Shape-tensor inputs (TensorRT's parser decides which) get the value the shape service feeds them
    (e.g. a sample-rate switch at the model's own threshold) as min = opt = max."""
    inputs = model.summary().inputs
    shape_tensors = find_shape_tensor_inputs(model, backend)
    if profiles and not validate_profiles(profiles, inputs, shape_tensors):
        # A profile that is exactly the shape service's guess (the Profiles panel fills one in) is still an
        # assumption: say so, with the guess's reasons.
        guess = suggest_shapes(model, probe=False)
        if guess.dims and [p.to_dict() for p in profiles] == [p.to_dict() for p in guess.profiles()]:
            return profiles, [d.text() for d in guess.dims], guess
        return profiles, [], None
    if not any(t.is_dynamic for t in inputs) and not shape_tensors:
        return [], [], None
    suggestion = suggest_shapes(model, cancel=cancel)
    profiles = suggestion.profiles()  # a decoder with KV cache: one per workload (prefill, decode)
    assumed = [d.text() for d in suggestion.dims] + [f"profile {w.text()}" for w in suggestion.workloads]
    for name in shape_tensors:
        value = suggestion.values.get(name)
        if value is not None:
            for profile in profiles:
                profile.values[name] = ShapeRange.fixed(tuple(int(v) for v in value.value.reshape(-1)))
            assumed.append(value.text())
    return profiles, assumed, suggestion


def _fallback_profiles(suggestion: ShapeSuggestion, values: dict) -> list[tuple[Profile, str]]:
    """Profiles to retry with when the suggested ones do not build, with what each is: for several workload
    profiles, one profile covering them all (TensorRT-RTX's Myelin fails on some merged decoders with two
    profiles that each build alone); then the range's opt alone and its max alone (a builder error at small
    shapes is not the model's fault)."""
    ranged = suggestion.profile()
    found: list[tuple[Profile, str]] = []
    if len(suggestion.workloads) > 1:
        ranged.values = dict(values)
        found.append((ranged, "one profile covering every workload"))
    for which in ("opt", "max"):
        fixed = suggestion.fixed_profile(which)
        fixed.values = dict(values)
        if fixed.to_dict() != ranged.to_dict() and all(fixed.to_dict() != f.to_dict() for f, _ in found):
            found.append((fixed, f"the suggested {which} shapes"))
    return found


def _retry_problem(profile: Profile, what: str, used: list[Profile], tried_first: str, first_error: str,
                   refusals: list[Problem]) -> Problem:
    """The warning when only a retry builds: what built, what did not, and why."""
    if len(used) > 1:
        message = (f"The workload profiles do not build together in one engine ({first_error}); {what} builds: "
                   f"{describe_profile(profile)}.")
        hint = ("One profile also admits shapes no step runs (a full prompt with a full cache) and tunes kernels for "
                "one opt shape; the alternative is one engine per workload (keep one profile in the Profiles panel "
                "and build, then the other).")
    else:
        message = f"Builds only for shapes {describe_profile(profile)}; the suggested range {tried_first} does not: " \
                  f"{first_error}"
        hint = "Use this profile (Profiles panel), or narrow the range's min until it builds."
    return Problem(kind=ProblemKind.SHAPE_RANGE, severity=Severity.WARNING, stage=Stage.BUILD,
                   inputs=sorted(profile.shapes), fixes=[], message=message,
                   detail="\n".join(p.detail or p.message for p in refusals), hint=hint)


def _skipped(model: LoadedModel, estimate: MemoryEstimate) -> TrialBuild:
    reason = f"it {estimate.describe()}"
    problem = Problem(
        kind=ProblemKind.TRIAL_BUILD_SKIPPED, severity=Severity.WARNING, stage=Stage.BUILD,
        message=f"The trial build of {model.name} was skipped: {reason}. Whether the builder takes the model "
                "is not known yet.",
        hint="Close other programs and analyse again, or build anyway (Build panel: Ignore the memory check; "
             "CLI: --ignore-memory-check). Turn the trial build after analysis off in the Repair menu to stop "
             "this check.",
        detail=str(estimate.to_dict()))
    return TrialBuild(False, [], problems=[problem], skipped=reason)


def trial_build(model: LoadedModel, profiles: list[Profile] | None = None, *, settings: BuildSettings | None = None,
                backend: Backend | None = None, progress: ProgressFn = no_progress,
                cancel: CancelToken | None = None, suggest: bool = True, check_memory: bool = True) -> TrialBuild:
    """Build ``model`` without writing an engine; ``suggest=False`` builds with exactly ``profiles``.

    With suggested shapes, a build that fails is retried with narrower profiles from the same suggestion
    before anything is reported; when one of them builds, the refusal becomes a "builds only for shapes …"
    note with that profile as its fix instead of a builder error.

    A build estimated not to fit in memory (``check_memory``) is not started: the result says it was
    skipped and why, as a problem, rather than swapping the machine to a halt.

    Raises ``Cancelled`` when cancelled and ``WorkbenchError`` when the builder crashes.
    """
    started = time.perf_counter()
    if check_memory:
        estimate = estimate_build_memory(model)
        if not estimate.fits:
            return _skipped(model, estimate)
    suggestion = None
    if suggest:
        progress("Choosing realistic shapes for the dynamic inputs", None)
        used, assumed, suggestion = trial_profiles(model, profiles, cancel, backend)
    else:
        used, assumed = list(profiles or []), []
    if suggestion is not None and suggestion.unresolved:
        # No verdicts at invented shapes: a build at 1×1 reports the builder's complaints about sizes nobody runs.
        unknown = ", ".join(d.label for d in suggestion.unresolved)
        return TrialBuild(False, [], assumed, [], time.perf_counter() - started, None, suggestion,
                          skipped=f"the shapes are unknown ({unknown}): give them in the Profiles panel")
    progress("Trial build" + (f" (with {'; '.join(assumed)})" if assumed else ""), None)
    settings = settings or BuildSettings()
    result = build_engine(model, settings, used, backend=backend, progress=progress, cancel=cancel,
                          check_memory=False)
    retried: list[str] = []
    problems = list(result.problems)
    if not result.succeeded and suggestion is not None and not any(p.kind == _PARSER_KIND for p in problems):
        first_error = problems[0].message if problems else "the build failed"
        tried_first = " | ".join(describe_profile(p) for p in used)
        retried.append(f"{tried_first}: {first_error}")
        for profile, what in _fallback_profiles(suggestion, used[0].values):
            progress(f"Trial build: retrying with {what}", None)
            retry = build_engine(model, settings, [profile], backend=backend, progress=progress, cancel=cancel,
                                 check_memory=False)
            if retry.succeeded:
                problems = [_retry_problem(profile, what, used, tried_first, first_error, result.problems)]
                used, result = [profile], retry
                break
            retried.append(f"{describe_profile(profile)}: "
                           f"{retry.problems[0].message if retry.problems else 'the build failed'}")
    return TrialBuild(result.succeeded, used, assumed, problems, time.perf_counter() - started, result,
                      suggestion, retried)

