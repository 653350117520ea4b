"""The window's state as Qt signals: a thin adapter over ``workbench.core.session.SessionState``.

The state and its rules (what opening a model resets, what a fix or an undo restores) live in the
core and are tested without Qt; this class forwards every change to it and tells the panels. Panels
take the ``Session`` and listen to its signals; they never hold their own copy of the model.
Whoever changes the model (open, a fix, undo) goes through ``Session`` so every panel and the graph
view update together.

Contract between the window and the panels:
- Opening a file: ``set_model(model, report, opened=True)`` (``original`` becomes that model, the
  recipe starts empty and so does the history).
- A fix: ``apply_fix(result)``; a repair: ``apply_repair(result)``; ``undo()``, ``redo()``,
  ``move_to(position)`` walk the history (``history_changed``). A fix or a repair sets the model with
  no report (the window then re-analyses in a worker and calls ``set_report``); undo and redo bring
  back the report and the results kept about that model, and nothing runs again.
- ``keep(kind, result, about)``: a panel keeps its result (``ResultKind``) with the model it is about;
  on ``model_changed`` panels show ``kept(kind)`` if there is one, else clear what they showed.
- Stages that find problems (detectors, trial build, build) call ``set_problems(source, [...])``.
- ``report_error(error, source)``: the one place errors go (the Log panel, and the window's error
  dialog unless the caller shows the error in place); background tasks (``workbench/ui/tasks.py``)
  send theirs here.
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

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from workbench.core import third_party_logs
from workbench.core.analysis.support import SupportReport
from workbench.core.backend import Backend, LogMessage
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem
from workbench.core.recipe import Recipe
from workbench.core.session import RESET_ON_NEW_MODEL, FixHistory, ResultKind, SessionState, T
from workbench.core.shapes.dims import ShapeSuggestion

if TYPE_CHECKING:  # as in core/session.py: the results' modules are not loaded for the hints
    from workbench.core.fixes.apply import FixResult
    from workbench.core.repair import RepairResult
    from workbench.core.split.split import SplitResult


class Session(QObject):
    model_changed = Signal(object)  # LoadedModel
    report_changed = Signal(object)  # SupportReport
    problems_changed = Signal(list)  # list[Problem]: parser + detector + builder problems
    history_changed = Signal()  # a step was applied, undone or redone, or the history started again
    node_selected = Signal(str)  # a node name to show (graph view centres it)
    log_message = Signal(object)  # LogMessage, from any thread (queued to the GUI thread)
    error_reported = Signal(object, bool)  # WorkbenchError, shown in place by whoever reported it?
    busy_changed = Signal(bool, str)  # busy?, what is running
    fix_requested = Signal(object, str)  # Problem (or None), fix name
    panel_requested = Signal(str)  # dock object name to raise
    engine_built = Signal(object)  # the build result (engine path and metadata)
    shapes_suggested = Signal(object)  # ShapeSuggestion from the trial build's probe (realistic shapes, reasons)
    node_picked = Signal(str)  # a node the user clicked in the graph
    split_requested = Signal()  # "Split for TensorRT" from a problem: the Repair menu's split dialog opens
    reduce_requested = Signal(object)  # "Reduce…" on a Problem: the reduce dialog opens and reduces that failure
    split_shown = Signal(object)  # SplitResult whose parts the graph marks, or None to clear them
    stage_changed = Signal(str, str, str)  # stage, state (STAGE_STATES), detail for the tooltip

    def __init__(self, backend: Backend, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.backend = backend
        self.state = SessionState()
        # onnx-graphsurgeon's and onnxruntime's messages, from whichever thread runs them, join the Log panel.
        third_party_logs.add_listener(self._relay_library_message)

    # The state, read-only here: changes go through the methods below so the panels hear of them.
    @property
    def model(self) -> LoadedModel | None:
        return self.state.model

    @property
    def original(self) -> LoadedModel | None:
        return self.state.original

    @property
    def report(self) -> SupportReport | None:
        return self.state.report

    @property
    def recipe(self) -> Recipe:
        return self.state.recipe

    @property
    def history(self) -> FixHistory:
        return self.state.history

    @property
    def stages(self) -> dict[str, tuple[str, str]]:
        return self.state.stages

    @property
    def problems(self) -> list[Problem]:
        return self.state.problems

    def set_model(self, model: LoadedModel, report: SupportReport | None = None, *, opened: bool = False) -> None:
        self.state.set_model(model, report, opened=opened)
        self._model_shown()
        self.history_changed.emit()

    def set_report(self, report: SupportReport) -> None:
        self.state.set_report(report)
        self.report_changed.emit(report)
        self.problems_changed.emit(self.problems)

    def set_problems(self, source: str, problems: list[Problem]) -> None:
        """Replace the problems one stage found (e.g. source="trial-build") and tell the panels."""
        self.state.set_problems(source, problems)
        self.problems_changed.emit(self.problems)

    def set_stage(self, stage: str, state: str, detail: str = "") -> None:
        self.state.set_stage(stage, state, detail)
        self.stage_changed.emit(stage, state, detail)

    def keep(self, kind: ResultKind, result: object, about: LoadedModel | None) -> bool:
        """Keep ``result`` with the model it is ``about`` (shown again when undo or redo returns to that model)."""
        return self.state.keep(kind, result, about)

    def kept(self, kind: ResultKind, of_type: type[T]) -> T | None:
        """The result of ``kind`` kept about the current model, if there is one of ``of_type``."""
        return self.state.kept(kind, of_type)

    # The history ---------------------------------------------------------------------------------------
    def apply_fix(self, result: FixResult) -> None:
        """Apply exactly the previewed ``FixResult`` as one undoable step."""
        self.state.apply_fix(result)
        self._history_moved()

    def apply_repair(self, result: RepairResult) -> None:
        """Apply a ``RepairResult``'s fixes and profile as one undoable step."""
        self.state.apply_repair(result)
        self._history_moved()

    def apply_split(self, split: SplitResult, cut: FixResult) -> None:
        """Keep a ``SplitResult``'s TensorRT part (``cut``: the fix result that makes it) as one undoable step."""
        self.state.apply_split(split, cut, self.backend.name)
        self._history_moved()

    def undo(self) -> None:
        label = self.history.undo_label
        if self.state.undo() is not None:
            self._history_moved(f"Undid {label}")

    def redo(self) -> None:
        label = self.history.redo_label
        if self.state.redo() is not None:
            self._history_moved(f"Redid {label}")

    def move_to(self, position: int) -> None:
        """The state after ``position`` applied steps (0: as opened or last replaced)."""
        if position != self.history.position:
            self.state.move_to(position)
            self._history_moved(f"Moved to step {position} of the history")

    def _history_moved(self, what: str = "") -> None:
        if what and self.report is not None:
            self.log("info", f"{what}: the analysis and results kept with that model are shown again "
                             "(nothing is re-run).")
        self._model_shown()
        self.history_changed.emit()

    def _model_shown(self) -> None:
        for stage in RESET_ON_NEW_MODEL:
            self.stage_changed.emit(stage, *self.stages[stage])
        self.model_changed.emit(self.model)
        if self.report is not None:  # an undo or redo: the report kept with that model (nothing is re-analysed)
            self.report_changed.emit(self.report)
        self.problems_changed.emit(self.problems)
        shapes = self.kept(ResultKind.SHAPES, ShapeSuggestion)
        if shapes is not None:
            self.shapes_suggested.emit(shapes)

    # Messages and errors -------------------------------------------------------------------------------
    def log(self, severity: str, text: str, source: str = "app") -> None:
        self.log_message.emit(LogMessage(severity, text, source))

    def report_error(self, error: WorkbenchError, source: str = "app", *, shown_in_place: bool = False) -> None:
        """The one error sink: the error joins the Log panel, and the window shows it in the error dialog
        unless ``shown_in_place`` (the caller shows it itself, e.g. in a dialog's status line)."""
        self.log("error", error.message + (f" — {error.hint}" if error.hint else ""), source)
        self.error_reported.emit(error, shown_in_place)

    def _relay_library_message(self, message: LogMessage) -> None:
        try:
            self.log_message.emit(message)
        except RuntimeError:  # this session's Qt object is gone (its window closed) before Python dropped it
            pass
