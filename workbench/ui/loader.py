"""Opening and re-analysing models in the background, newest request wins.

Each request gets a generation number; starting a new one cancels the one in flight (which kills
its analysis child), and a result that arrives for an older generation is dropped, so a slow,
stale load can never replace a newer model.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from workbench.core.analysis.background import load_and_analyze, reanalyze
from workbench.core.isolation.child_process import ChildProcess
from workbench.ui.worker import Worker, start


class ModelLoader(QObject):
    failed = Signal(object, str)  # WorkbenchError, what was being done
    progress = Signal(str)

    def __init__(self, session, child: ChildProcess, backend_choice: str = "auto", parent=None):
        super().__init__(parent)
        self.session = session
        self.child = child
        self.backend_choice = backend_choice
        self.generation = 0
        self._current: Worker | None = None
        self._running: set[Worker] = set()  # kept alive until each finishes
        session.model_changed.connect(self._on_model_changed)

    @property
    def busy(self) -> bool:
        return bool(self._running)

    def open(self, path: str | Path) -> Worker:
        path = Path(path)
        worker = Worker(load_and_analyze, path, self.child, self.backend_choice)
        return self._start(worker, f"Opening {path.name}…",
                           lambda result: self.session.set_model(*result, opened=True))

    def _on_model_changed(self, model) -> None:
        if self.session.report is None:  # a fix or an undo: the parser has not seen this model yet
            self.analyse(model, "Analysing the changed model…")

    def analyse(self, model, what: str = "Analysing the model…") -> Worker:
        """Run the support analysis on ``model`` again; its report (and the trial build after it) replace the old."""
        worker = Worker(reanalyze, model, self.child, self.backend_choice)
        return self._start(worker, what,
                           lambda report: self.session.set_report(report) if self.session.model is model else None)

    def cancel(self) -> None:
        if self._current is not None:
            self._current.cancel()

    def _start(self, worker: Worker, what: str, on_result) -> Worker:
        self.cancel()
        self.generation += 1
        generation = self.generation
        current = lambda: generation == self.generation  # noqa: E731
        signals = worker.signals
        signals.finished.connect(lambda result: on_result(result) if current() else None)
        signals.failed.connect(lambda error: self.failed.emit(error, what) if current() else None)
        signals.progress.connect(lambda phase, _fraction: self.progress.emit(phase) if current() else None)
        signals.done.connect(lambda: self._finish(worker, generation))
        self._current = worker
        self._running.add(worker)
        self.session.busy_changed.emit(True, what)
        return start(worker)

    def _finish(self, worker: Worker, generation: int) -> None:
        self._running.discard(worker)
        if generation == self.generation:
            self._current = None
            self.session.busy_changed.emit(False, "")
