"""The QRunnable under ``workbench.ui.tasks.Task``: runs one core function off the GUI thread.

``Worker(fn, *args, **kwargs)`` calls ``fn(*args, progress=..., cancel=..., **kwargs)`` on a
QThreadPool thread and reports progress, the result, errors and cancellation as signals. The GUI
thread only receives signals; it never waits on the work. Panels do not use it directly: they
start a ``Task``, which keeps the worker alive, drops stale results and routes errors.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Signal

from workbench.core.errors import WorkbenchError
from workbench.core.progress import Cancelled, CancelToken


class WorkerSignals(QObject):
    progress = Signal(str, object)  # phase, fraction (float) or None
    finished = Signal(object)  # the function's result
    failed = Signal(object)  # a WorkbenchError (unexpected exceptions are wrapped, with the traceback as detail)
    cancelled = Signal()
    done = Signal()  # after finished/failed/cancelled, always


class Worker(QRunnable):
    def __init__(self, fn: Callable, *args: object, **kwargs: object) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self.token = CancelToken()
        self.setAutoDelete(False)  # its Task keeps it until `done`; its signals must outlive run()

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

