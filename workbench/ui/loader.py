"""Opening and re-analysing models in the background, newest request wins.

Opening and analysing are one task: starting a new request cancels the one in flight (which kills
its analysis child) and disconnects it, so a slow, stale load can never replace a newer model.
Errors go to the window's error dialog and the Log panel (``session.report_error``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core.analysis.background import load_and_analyze, reanalyze
from workbench.core.analysis.support import SupportReport
from workbench.core.isolation.child_process import ChildProcess
from workbench.core.model.loading import LoadedModel
from workbench.ui.session import Session
from workbench.ui.tasks import Task
from workbench.ui.worker import Worker


class ModelLoader(QObject):
    failed = Signal(object)  # WorkbenchError (already reported to the session's error sink)
    progress = Signal(str)

    def __init__(self, session: Session, child: ChildProcess, backend_choice: str = "auto",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.child = child
        self.backend_choice = backend_choice
        self._analysed: LoadedModel | None = None  # the model being re-analysed (None while opening a file)
        self.task = Task(self, session, "analysis", on_done=self._done, on_error=self.failed.emit,
                         on_progress=self._progress, on_end=self._ended)
        session.model_changed.connect(self._on_model_changed)

    @property
    def busy(self) -> bool:
        return self.task.running

    def open(self, path: str | Path) -> Worker:
        path = Path(path)
        return self._start(None, f"Opening {path.name}…", load_and_analyze, path)

    def _on_model_changed(self, model: LoadedModel) -> None:
        if self.session.report is None:  # a fix or an undo: the parser has not seen this model yet
            self.analyse(model, "Analysing the changed model…")

    def analyse(self, model: LoadedModel, what: str = "Analysing the model…") -> Worker:
        """Run the support analysis on ``model`` again; its report (and the trial build after it) replace the old."""
        return self._start(model, what, reanalyze, model)

    def cancel(self) -> None:
        self.task.cancel()

    def _start(self, model: LoadedModel | None, what: str, fn: Callable, subject: Path | LoadedModel) -> Worker:
        self._analysed = model
        worker = self.task.start(fn, subject, self.child, self.backend_choice)
        self.session.busy_changed.emit(True, what)
        return worker

    def _done(self, result: tuple[LoadedModel, SupportReport] | SupportReport) -> None:
        if isinstance(result, tuple):  # a file was opened (nothing was being re-analysed): (model, report)
            self.session.set_model(*result, opened=True)
        elif self.session.model is self._analysed:  # still the model that was analysed
            self.session.set_report(result)

    def _progress(self, phase: str, fraction: float | None) -> None:
        # e.g. "Reading the model… 40 %": bytes read of the file's size, for large files
        self.progress.emit(phase if fraction is None else f"{phase}… {fraction:.0%}")

    def _ended(self) -> None:
        self.session.busy_changed.emit(False, "")
