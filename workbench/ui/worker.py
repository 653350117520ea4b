"""Run core functions off the GUI thread, with progress, cancel and errors as signals.

``Worker(fn, *args, **kwargs)`` calls ``fn(*args, progress=..., cancel=..., **kwargs)`` on a
QThreadPool thread. The GUI thread only receives signals; it never waits on the work.
"""

from __future__ import annotations

import traceback

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from workbench.core.errors import WorkbenchError
from workbench.core.progress import Cancelled, CancelToken


class WorkerSignals(QObject):
    progress = Signal(str, object)  # phase, fraction (float) or None
    finished = Signal(object)  # the function's result
    failed = Signal(object)  # a WorkbenchError (unexpected exceptions are wrapped, with the traceback as detail)
    cancelled = Signal()
    done = Signal()  # after finished/failed/cancelled, always


class Worker(QRunnable):
    def __init__(self, fn, *args, **kwargs):
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self.token = CancelToken()
        self.setAutoDelete(False)  # the owner keeps it until `done`; its signals must outlive run()

    def cancel(self) -> None:
        self.token.cancel()

    def run(self) -> None:
        signals = self.signals
        try:
            result = self.fn(*self.args, progress=lambda phase, fraction=None: signals.progress.emit(phase, fraction),
                             cancel=self.token, **self.kwargs)
        except Cancelled:
            signals.cancelled.emit()
        except WorkbenchError as exc:
            signals.failed.emit(exc)
        except Exception as exc:  # becomes an error dialog, never a silent failure
            signals.failed.emit(WorkbenchError(f"Unexpected error: {type(exc).__name__}: {exc}",
                                               "This is a bug; the detail has the traceback to report.",
                                               traceback.format_exc()))
        else:
            if self.token.cancelled:
                signals.cancelled.emit()
            else:
                signals.finished.emit(result)
        signals.done.emit()


def start(worker: Worker, pool: QThreadPool | None = None) -> Worker:
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker
