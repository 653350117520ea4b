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
from workbench.core.build import BuildResult, BuildSettings, build_engine
from workbench.core.model import LoadedModel
from workbench.core.problems import Problem
from workbench.core.profiles import Profile, profiles_to_recipe, suggest_profile, validate_profiles
from workbench.core.progress import CancelToken, ProgressFn, no_progress

# Parser errors the build child meets are already parse-stage problems of the analysis.
_PARSER_KIND = "parser-error"


@dataclass
class TrialBuild:
    succeeded: bool
    profiles: list[Profile]  # what the build used
    assumed: list[str] = field(default_factory=list)  # "images: 1x3x64x64 (batch assumed 1)" per suggested input
    problems: list[Problem] = field(default_factory=list)  # every problem of the build (stage "build")
    seconds: float = 0.0
    result: BuildResult | None = None

    @property
    def stopped_at_parser(self) -> bool:
        return any(p.kind == _PARSER_KIND for p in self.problems)

    def triage_problems(self) -> list[Problem]:
        """What the triage list adds: builder refusals (the parser's are listed already) and the assumed shapes."""
        found = [p for p in self.problems if p.kind != _PARSER_KIND]
        if self.assumed:
            found.append(Problem(
                kind="trial-build-shapes", severity="info", stage="build", inputs=[a.split(":")[0] for a in self.assumed],
                message=f"The trial build {'succeeded' if self.succeeded else 'ran'} with assumed shapes: "
                        f"{'; '.join(self.assumed)}.",
                hint="Give your own min/opt/max shapes in the Profiles panel; the trial build uses them next time."))
        return found

    def to_dict(self) -> dict:
        return {"succeeded": self.succeeded, "profiles": profiles_to_recipe(self.profiles), "assumed": self.assumed,
                "seconds": round(self.seconds, 3), "problems": [p.to_dict() for p in self.problems]}


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def trial_profiles(model: LoadedModel, profiles: list[Profile] | None = None) -> tuple[list[Profile], list[str]]:
    """The user's profiles when they fit the model, else one suggested profile; plus what was assumed."""
    inputs = model.summary().inputs
    if profiles and not validate_profiles(profiles, inputs):
        return profiles, []
    if not any(t.is_dynamic for t in inputs):
        return [], []
    suggested = suggest_profile(inputs)
    assumed = []
    for tensor in inputs:
        shapes = suggested.shapes.get(tensor.name)
        if shapes is not None:
            names = ", ".join(str(tensor.shape[i]) for i in tensor.dynamic_dims)
            assumed.append(f"{tensor.name}: {_shape_text(shapes.opt)} ({names} assumed 1)")
    return [suggested], assumed


def trial_build(model: LoadedModel, profiles: list[Profile] | None = None, *, settings: BuildSettings | None = None,
                backend: Backend | None = None, progress: ProgressFn = no_progress,
                cancel: CancelToken | None = None, suggest: bool = True) -> TrialBuild:
    """Build ``model`` without writing an engine; ``suggest=False`` builds with exactly ``profiles``.

    Raises ``Cancelled`` when cancelled and ``WorkbenchError`` when the builder crashes.
    """
    started = time.perf_counter()
    used, assumed = trial_profiles(model, profiles) if suggest else (list(profiles or []), [])
    progress("Trial build" + (f" (assuming {'; '.join(assumed)})" if assumed else ""), None)
    result = build_engine(model, settings or BuildSettings(), used, backend=backend, progress=progress, cancel=cancel)
    return TrialBuild(result.succeeded, used, assumed, list(result.problems), time.perf_counter() - started, result)
