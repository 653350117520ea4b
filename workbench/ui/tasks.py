"""Background work for panels, dialogs and the window: one way to start it, one place its errors go.

A ``Task`` is one kind of background work of one owner (the window's model loading, a panel's
build, the Profiles panel's check next to it). ``task.start(fn, *args, **kwargs)`` runs
``fn(*args, progress=..., cancel=..., **kwargs)`` in a ``Worker`` on the thread pool and returns
at once. Starting a task again cancels its previous run and disconnects it, so a stale result,
progress report or error can never reach the owner after a newer start; only the current run
reports, on the GUI thread, to the owner's bound methods given to the task:

- ``on_done(result)``, ``on_error(error)`` (a ``WorkbenchError``), ``on_progress(phase, fraction)``,
  ``on_cancelled()``;
- ``on_end()`` once the current run is over, whichever way it ended (buttons back to idle).

``cancel()`` asks the current run to stop (it still reports ``on_cancelled`` and ends);
``abandon()`` also disconnects it, for work made pointless by a change (e.g. a new model).

Every error of every task also goes to the one error sink, ``session.report_error``: the Log panel,
and the error dialog unless the owner shows its errors in place (``errors_in_place``, e.g. a
status line in a dialog). When the owner is destroyed its runs are cancelled and never call it.

In the spirit of Orange's ``ConcurrentWidgetMixin`` and napari's ``create_worker``; ``Worker``
(``workbench/ui/worker.py``) is the QRunnable underneath and is not used directly.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QThreadPool

from workbench.core.errors import WorkbenchError
from workbench.ui.session import Session
from workbench.ui.worker import Worker

# Runs whose worker has not finished yet. A Worker must outlive its run() (its signals are emitted
# from it), whatever happens to the task's owner meanwhile.
_UNFINISHED: set[_Run] = set()


class _Run(QObject):
    """One start of a task: relays its worker's signals to the task while it is the task's current run."""

    def __init__(self, task: Task, worker: Worker) -> None:
        super().__init__()  # lives on the GUI thread: the worker's signals arrive here queued
        self.task: Task | None = task
        self.worker = worker
        self._relays = ((worker.signals.finished, self._finished), (worker.signals.failed, self._failed),
                        (worker.signals.progress, self._progress), (worker.signals.cancelled, self._cancelled))
        for signal, slot in self._relays:
            signal.connect(slot)
        worker.signals.done.connect(self._done)
        _UNFINISHED.add(self)

    def retire(self) -> None:
        """Cancel and disconnect: nothing of this run reaches the task any more (its thread may go on a while)."""
        self.task = None
        self.worker.cancel()
        for signal, slot in self._relays:
            signal.disconnect(slot)

    def _finished(self, result: object) -> None:
        if self.task is not None:
            self.task._finished(result)

    def _failed(self, error: WorkbenchError) -> None:
        if self.task is not None:
            self.task._failed(error)

    def _progress(self, phase: str, fraction: float | None) -> None:
        if self.task is not None:
            self.task._progress(phase, fraction)

    def _cancelled(self) -> None:
        if self.task is not None:
            self.task._cancelled()

    def _done(self) -> None:
        _UNFINISHED.discard(self)
        task, self.task = self.task, None
        if task is not None:
            task._ended(self)


class Task:
    """One kind of background work of ``owner``; the newest ``start`` wins. See the module docstring."""

    def __init__(self, owner: QObject, session: Session, source: str, *,
                 on_done: Callable | None = None, on_error: Callable | None = None,
                 on_progress: Callable | None = None, on_cancelled: Callable | None = None,
                 on_end: Callable | None = None, errors_in_place: bool = False) -> None:
        self.session = session
        self.source = source  # the Log panel's "source" for this task's errors, e.g. "build"
        self.on_done, self.on_error, self.on_progress = on_done, on_error, on_progress
        self.on_cancelled, self.on_end = on_cancelled, on_end
        self.errors_in_place = errors_in_place
        self._current: _Run | None = None
        owner.destroyed.connect(self._owner_destroyed)

    @property
    def running(self) -> bool:
        """Whether the current run has not ended yet (``on_end`` has not been called for it)."""
        return self._current is not None

    def start(self, fn: Callable, *args: object, **kwargs: object) -> Worker:
        """Run ``fn(*args, progress=..., cancel=..., **kwargs)`` in the background, replacing the current run."""
        if self._current is not None:
            self._current.retire()
        worker = Worker(fn, *args, **kwargs)
        self._current = _Run(self, worker)
        QThreadPool.globalInstance().start(worker)
        return worker

    def cancel(self) -> None:
        """Ask the current run to stop; it still reports ``on_cancelled`` (or its result, if it was done) and ends."""
        if self._current is not None:
            self._current.worker.cancel()

    def abandon(self) -> None:
        """Cancel the current run and never hear from it again (its result would be stale); ``on_end`` runs now."""
        if self._current is not None:
            self._current.retire()
            self._current = None
            if self.on_end is not None:
                self.on_end()

    def _owner_destroyed(self, *_args: object) -> None:
        if self._current is not None:
            self._current.retire()
            self._current = None

    def _finished(self, result: object) -> None:
        if self.on_done is not None:
            self.on_done(result)

    def _failed(self, error: WorkbenchError) -> None:
        if self.on_error is not None:
            self.on_error(error)
        self.session.report_error(error, self.source, shown_in_place=self.errors_in_place)

    def _progress(self, phase: str, fraction: float | None) -> None:
        if self.on_progress is not None:
            self.on_progress(phase, fraction)

    def _cancelled(self) -> None:
        if self.on_cancelled is not None:
            self.on_cancelled()

    def _ended(self, run: _Run) -> None:
        if run is self._current:
            self._current = None
            if self.on_end is not None:
                self.on_end()
