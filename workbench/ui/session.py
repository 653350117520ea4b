"""The window's state: the model being worked on and what is known about it.

Panels take the ``Session`` and listen to its signals; they never hold their own copy of the
model. Whoever changes the model (open, a fix, undo) goes through ``Session`` so every panel
and the graph view update together.

Contract between the window and the panels:
- Opening a file: ``set_model(model, report, opened=True)`` (``original`` becomes that model and
  the recipe starts empty).
- A fix or undo: ``set_model(new_model)`` with no report; the main window then re-analyses in a
  worker and calls ``set_report``.
- Stages that find problems (detectors, trial build, build) call ``set_problems(source, [...])``.
- ``fix_requested(problem, fix_name)``: the triage view asks the fixes UI to preview a fix.
- ``panel_requested(object_name)``: raise a dock (e.g. a builder error points at "profiles").
- ``engine_built(result)``: the build UI announces an engine file for the compare UI.
- ``shapes_suggested(suggestion)``: the trial build probed realistic shapes; the Profiles panel offers them.
- ``node_picked(name)``: the user clicked a node in the graph (the triage view shows its problems).
- ``set_stage(stage, state, detail)``: whoever runs a stage (trial build, profile check, build,
  comparison) says where it stands; the status strip shows ``stages``. A new model resets the
  stages that depended on the previous one.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from workbench.core.analysis.support import SupportReport
from workbench.core import third_party_logs
from workbench.core.backend import Backend, LogMessage
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem
from workbench.core.recipe import Recipe

# Stages of the status strip (the "parsed" state follows the report; the others are set by their panels).
STAGES = ("parsed", "builds", "profile", "engine", "compare")
STAGE_STATES = ("ok", "failed", "none", "running")
_RESET_ON_NEW_MODEL = ("builds", "engine", "compare")


class Session(QObject):
    model_changed = Signal(object)  # LoadedModel
    report_changed = Signal(object)  # SupportReport
    problems_changed = Signal(list)  # list[Problem]: parser + detector + builder problems
    node_selected = Signal(str)  # a node name to show (graph view centres it)
    log_message = Signal(object)  # LogMessage, from any thread (queued to the GUI thread)
    busy_changed = Signal(bool, str)  # busy?, what is running
    fix_requested = Signal(object, str)  # Problem (or None), fix name
    panel_requested = Signal(str)  # dock object name to raise
    engine_built = Signal(object)  # the build result (engine path and metadata)
    shapes_suggested = Signal(object)  # ShapeSuggestion from the trial build's probe (realistic shapes, reasons)
    node_picked = Signal(str)  # a node the user clicked in the graph
    stage_changed = Signal(str, str, str)  # stage, state (STAGE_STATES), detail for the tooltip

    def __init__(self, backend: Backend, parent=None):
        super().__init__(parent)
        self.backend = backend
        self.model: LoadedModel | None = None
        self.original: LoadedModel | None = None  # the model as opened, before any fix
        self.report: SupportReport | None = None
        self.recipe = Recipe()
        # Problems added by later stages, by source ("detectors", "trial-build", "build", ...).
        self._problems_by_source: dict[str, list[Problem]] = {}
        # onnx-graphsurgeon's and onnxruntime's messages, from whichever thread runs them, join the Log panel.
        third_party_logs.add_listener(self._relay_library_message)
        self.stages: dict[str, tuple[str, str]] = {stage: ("none", "") for stage in STAGES}

    @property
    def problems(self) -> list[Problem]:
        found = list(self.report.problems) if self.report else []
        for problems in self._problems_by_source.values():
            found.extend(problems)
        return found

    def set_model(self, model: LoadedModel, report: SupportReport | None = None, *, opened: bool = False) -> None:
        self.model = model
        self.report = report
        if opened:
            self.original = model
            self.recipe = Recipe(source_model=str(model.path or ""))
        self._problems_by_source = {}
        for stage in _RESET_ON_NEW_MODEL:
            self.set_stage(stage, "none", "not run on this model yet")
        self.model_changed.emit(model)
        if report is not None:
            self.report_changed.emit(report)
        self.problems_changed.emit(self.problems)

    def set_report(self, report: SupportReport) -> None:
        self.report = report
        self.report_changed.emit(report)
        self.problems_changed.emit(self.problems)

    def set_problems(self, source: str, problems: list[Problem]) -> None:
        """Replace the problems one stage found (e.g. source="trial-build") and tell the panels."""
        self._problems_by_source[source] = list(problems)
        self.problems_changed.emit(self.problems)

    def set_stage(self, stage: str, state: str, detail: str = "") -> None:
        if stage not in STAGES or state not in STAGE_STATES:
            raise ValueError(f"unknown stage {stage!r} or state {state!r}")
        self.stages[stage] = (state, detail)
        self.stage_changed.emit(stage, state, detail)

    def log(self, severity: str, text: str, source: str = "app") -> None:
        self.log_message.emit(LogMessage(severity, text, source))

    def _relay_library_message(self, message: LogMessage) -> None:
        try:
            self.log_message.emit(message)
        except RuntimeError:  # this session's Qt object is gone (its window closed) before Python dropped it
            pass
