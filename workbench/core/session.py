"""The window's state without the window: the model worked on, what is known about it, and the fix history.

``SessionState`` holds the current model (and the one opened), its support report, the problems
later stages found (by source: "detectors", "trial-build", "build" …), the recipe, the state of each
stage of the status strip, and the ``FixHistory``. It is plain Python: the rules (what opening a
model resets, what a fix or an undo restores) are tested without Qt, and the window's ``Session``
(``workbench/ui/session.py``) only forwards to it and emits signals.

The history is a list of steps over immutable snapshots. A snapshot is the ``LoadedModel`` object
itself with the recipe's fix steps and profiles, so undo hands back the exact previous model
(byte-identical, the same object) and takes the step out of the recipe; redo puts both back. A
model that arrives from outside the history (opening a file, or replacing it) starts the history
again.

Each snapshot also holds its model's ``ModelResults``: the support report, the problems by source,
the stages, and the results kept about that model (``ResultKind``: trial build, shape suggestion,
build, comparison, precision check, profile check). They are about that very model, so undo and redo
show them again instead of running anything; a result that arrives after the model was replaced is
kept with the snapshot of the model it is about (``keep``), ready for an undo back to it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, TypeVar

from workbench.core.errors import WorkbenchError
from workbench.core.recipe import Recipe
from workbench.core.split.deploy import split_recipe

if TYPE_CHECKING:  # only for annotations
    from workbench.core.analysis.support import SupportReport
    from workbench.core.fixes.apply import FixResult
    from workbench.core.model.loading import LoadedModel
    from workbench.core.problems import Problem
    from workbench.core.repair import RepairResult
    from workbench.core.split.split import SplitResult

T = TypeVar("T")

# Stages of the status strip ("parsed" follows the report; the others are set by whoever runs them).
STAGES = ("parsed", "builds", "profile", "engine", "compare")
STAGE_STATES = ("ok", "failed", "none", "running")
# What a new model makes unknown again (the profile is re-validated by its editor).
RESET_ON_NEW_MODEL = ("builds", "engine", "compare")
NOT_RUN_ON_THIS_MODEL = "not run on this model yet"


class ResultKind(Enum):
    """Results kept with the model they were computed on (see ``ModelResults``)."""

    TRIAL_BUILD = "trial build"  # TrialBuild, after the analysis
    SHAPES = "shape suggestion"  # ShapeSuggestion probed by the trial build
    BUILD = "build"  # BuildResult of the Build panel
    COMPARISON = "comparison"  # CompareResult of the Compare panel
    PRECISION_CHECK = "precision check"  # PrecisionResult of the Precision panel
    PROFILE_CHECK = "profile check"  # the Profiles editor's check and the cells it ran on


# Set by the analysis: a new report of the same model makes them stale (its trial build runs again).
FOLLOW_THE_REPORT = (ResultKind.TRIAL_BUILD, ResultKind.SHAPES)


@dataclass(eq=False)
class ModelResults:
    """What is known about one model: its report, the problems each stage found, the stages, and kept results.

    Mutable on purpose: results arrive after the model was shown (the analysis, a build), and the history
    snapshot holding this object must see them.
    """

    report: SupportReport | None = None
    problems_by_source: dict[str, list[Problem]] = field(default_factory=dict)
    stages: dict[str, tuple[str, str]] = field(default_factory=lambda: {stage: ("none", "") for stage in STAGES})
    kept: dict[ResultKind, object] = field(default_factory=dict)

    def for_next_model(self, report: SupportReport | None = None) -> ModelResults:
        """Results for a model that replaces this one: nothing later stages found holds any more; the parse and
        profile stages stay until their owners evaluate the new model (the analysis, the Profiles editor)."""
        stages = dict(self.stages)
        for stage in RESET_ON_NEW_MODEL:
            stages[stage] = ("none", NOT_RUN_ON_THIS_MODEL)
        return ModelResults(report, stages=stages)


@dataclass(frozen=True)
class Snapshot:
    """What a history step restores: the model object itself, the recipe's fix steps, profiles and split, and
    what is known about the model (its ``ModelResults``, shown again instead of re-running anything)."""

    model: LoadedModel
    fixes: tuple[dict, ...] = ()
    profiles: tuple[dict, ...] = ()
    split: tuple[tuple[str, object], ...] = ()  # the recipe's [split] section (parts, boundaries), as items
    results: ModelResults = field(default_factory=ModelResults, compare=False)

    @classmethod
    def of(cls, model: LoadedModel, fixes, profiles, split: dict | None = None,
           results: ModelResults | None = None) -> Snapshot:
        # Deep copies: editing the live recipe afterwards must not change a recorded step.
        return cls(model, tuple(copy.deepcopy(list(fixes))), tuple(copy.deepcopy(list(profiles))),
                   tuple(copy.deepcopy(dict(split or {})).items()), results or ModelResults())


@dataclass(frozen=True)
class HistoryStep:
    label: str  # e.g. "freeze-input:input=downsample_ratio,value=0.5", or "Repair: … → …"
    before: Snapshot
    after: Snapshot


class FixHistory:
    """Applied steps, newest last; ``position`` of them are applied (the rest can be redone)."""

    def __init__(self):
        self._steps: list[HistoryStep] = []
        self.position = 0

    @property
    def steps(self) -> tuple[HistoryStep, ...]:
        return tuple(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def can_undo(self) -> bool:
        return self.position > 0

    @property
    def can_redo(self) -> bool:
        return self.position < len(self._steps)

    @property
    def undo_label(self) -> str:
        return self._steps[self.position - 1].label if self.can_undo else ""

    @property
    def redo_label(self) -> str:
        return self._steps[self.position].label if self.can_redo else ""

    def push(self, step: HistoryStep) -> None:
        """A new step after the applied ones; steps that were undone cannot be redone any more."""
        del self._steps[self.position:]
        self._steps.append(step)
        self.position = len(self._steps)

    def snapshot_at(self, position: int) -> Snapshot:
        """The state after ``position`` applied steps (0: before the first step)."""
        if not 0 <= position <= len(self._steps) or not self._steps:
            raise IndexError(f"no history position {position} (the history has {len(self._steps)} step(s))")
        return self._steps[position - 1].after if position else self._steps[0].before

    def move_to(self, position: int) -> Snapshot:
        snapshot = self.snapshot_at(position)
        self.position = position
        return snapshot

    def clear(self) -> None:
        self._steps.clear()
        self.position = 0

    def results_of(self, model: LoadedModel) -> ModelResults | None:
        """The results of the snapshot holding ``model`` (the same object), if the history has one."""
        for step in self._steps:
            for snapshot in (step.before, step.after):
                if snapshot.model is model:
                    return snapshot.results
        return None


class SessionState:
    def __init__(self):
        self.model: LoadedModel | None = None
        self.original: LoadedModel | None = None  # the model as opened, before any fix
        self.results = ModelResults()  # about the current model; the history's snapshot of it holds the same object
        self.recipe = Recipe()
        self.history = FixHistory()

    @property
    def report(self) -> SupportReport | None:
        return self.results.report

    @property
    def stages(self) -> dict[str, tuple[str, str]]:
        return self.results.stages

    @property
    def problems(self) -> list[Problem]:
        """The report's problems, then each later stage's, in the order the stages first reported."""
        found = list(self.report.problems) if self.report else []
        for problems in self.results.problems_by_source.values():
            found.extend(problems)
        return found

    def problems_from(self, source: str) -> list[Problem]:
        return list(self.results.problems_by_source.get(source, []))

    # A model from outside the history -------------------------------------------------------------
    def set_model(self, model: LoadedModel, report: SupportReport | None = None, *, opened: bool = False) -> None:
        """Opening a file (``opened``: it becomes the original and the recipe starts empty) or replacing the model.

        Either way the history starts again: its steps lead to and from other models.
        """
        if opened:
            self.original = model
            self.recipe = Recipe(source_model=str(model.path or ""))
        self.history.clear()
        self.model = model
        self.results = self.results.for_next_model(report)

    def set_report(self, report: SupportReport) -> None:
        """A (new) analysis of the current model; what followed the previous analysis of it is dropped."""
        self.results.report = report
        for kind in FOLLOW_THE_REPORT:
            self.results.kept.pop(kind, None)

    def set_problems(self, source: str, problems: list[Problem]) -> None:
        """Replace the problems one stage found (e.g. source="trial-build")."""
        self.results.problems_by_source[source] = list(problems)

    def keep(self, kind: ResultKind, result: object, about: LoadedModel | None) -> bool:
        """Keep ``result`` with the model it is ``about``: the current one, or one in the history (a result that
        arrived after a fix replaced its model is shown again by an undo). False when no snapshot holds it."""
        if about is None:
            return False
        results = self.results if about is self.model else self.history.results_of(about)
        if results is None:
            return False
        results.kept[kind] = result
        return True

    def kept(self, kind: ResultKind, of_type: type[T]) -> T | None:
        """The result of ``kind`` kept about the current model, if there is one of ``of_type``."""
        result = self.results.kept.get(kind)
        return result if isinstance(result, of_type) else None

    def set_stage(self, stage: str, state: str, detail: str = "") -> None:
        if stage not in STAGES or state not in STAGE_STATES:
            raise ValueError(f"unknown stage {stage!r} or state {state!r}")
        self.stages[stage] = (state, detail)

    # Fixes and the history ------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        if self.model is None:
            raise WorkbenchError("There is no model to change.", "Open a model first.")
        return Snapshot.of(self.model, self.recipe.fixes, self.recipe.profiles, self.recipe.split, self.results)

    def apply(self, label: str, model: LoadedModel, *, fixes: Sequence[dict] = (),
              profiles: Sequence[dict] | None = None, split: dict | None = None) -> HistoryStep:
        """One undoable step: ``model`` replaces the current one, ``fixes`` join the recipe, ``profiles`` and
        ``split`` (if given) replace its profiles and its [split] section."""
        before = self.snapshot()  # refuses when there is no model
        after = Snapshot.of(model, list(before.fixes) + list(fixes),
                            before.profiles if profiles is None else profiles,
                            dict(before.split) if split is None else split, self.results.for_next_model())
        step = HistoryStep(label, before, after)
        self.history.push(step)
        self._restore(after)
        return step

    def apply_fix(self, result: FixResult) -> HistoryStep:
        """Apply exactly the previewed result (its ``before`` must be the current model)."""
        if result.before is not self.model:
            raise WorkbenchError(f"The model changed since {result.step.spec()} was previewed.",
                                 "Preview the fix again, then apply it.")
        return self.apply(result.step.spec(), result.after, fixes=[result.step.to_dict()])

    def apply_repair(self, result: RepairResult) -> HistoryStep:
        """The repair's fixes and profile as one undoable step (it was searched on the current model)."""
        if result.original is not self.model:
            raise WorkbenchError("The model changed since the repair search.",
                                 "Search again before applying.")
        model = result.fix_results[-1].after if result.fix_results else self.model
        profiles = result.recipe().profiles
        return self.apply("Repair: " + " → ".join(step.title for step in result.steps), model,
                          fixes=[fix_result.step.to_dict() for fix_result in result.fix_results],
                          profiles=None if profiles == self.recipe.profiles else profiles)

    def apply_split(self, split: SplitResult, cut: FixResult, backend_name: str) -> HistoryStep:
        """Keep the split's TensorRT part as the model (``cut``: the original cut at that part's outputs, which
        is how a recipe replays it) and remember the whole split in the recipe's [split] section."""
        if split.model is not self.model or cut.before is not self.model:
            raise WorkbenchError("The model changed since the split was made.", "Split again before applying.")
        recipe = split_recipe(split, backend_name)
        parts = len(split.parts)
        return self.apply(f"Split for TensorRT: part 1 of {parts} ({len(split.parts[0].nodes)} nodes) kept, "
                          f"ends at {', '.join(split.parts[0].outputs)}", cut.after,
                          fixes=[cut.step.to_dict()], profiles=recipe.profiles or None, split=recipe.split)

    def undo(self) -> Snapshot | None:
        """Back to the state before the last applied step (``None`` when there is none)."""
        return self.move_to(self.history.position - 1) if self.history.can_undo else None

    def redo(self) -> Snapshot | None:
        return self.move_to(self.history.position + 1) if self.history.can_redo else None

    def move_to(self, position: int) -> Snapshot:
        """The state after ``position`` applied steps (0: the model before the first step)."""
        snapshot = self.history.move_to(position)
        self._restore(snapshot)
        return snapshot

    def _restore(self, snapshot: Snapshot) -> None:
        self.recipe.fixes = copy.deepcopy(list(snapshot.fixes))
        self.recipe.profiles = copy.deepcopy(list(snapshot.profiles))
        self.recipe.split = copy.deepcopy(dict(snapshot.split))
        self.model = snapshot.model
        self.results = snapshot.results
