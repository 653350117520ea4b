"""Error dialogs and the last-resort exception hook: nothing fails silently, the app keeps running.

Every failure reaches the user as "what happened" (``message``), "what to try" (``hint``) and the
underlying text (``detail``, folded away). Dialogs are window-modal but opened asynchronously, so
the event loop (and whatever is loading) keeps going behind them.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.errors import WorkbenchError


def error_box(parent: QWidget | None, error: WorkbenchError, title: str = "TensorRT Workbench") -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Critical, title, error.message, QMessageBox.StandardButton.Ok, parent)
    box.setInformativeText(error.hint or "")
    if error.detail:
        box.setDetailedText(error.detail)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def unexpected_error(exc_type: type[BaseException], exc: BaseException | None,
                     tb: TracebackType | None) -> WorkbenchError:
    return WorkbenchError(f"Unexpected error: {exc_type.__name__}: {exc}",
                          "The window keeps running and your model is unchanged. This is a bug: please report "
                          "it with the detail below.",
                          "".join(traceback.format_exception(exc_type, exc, tb)))


class ExceptionHook(QObject):
    """Routes uncaught exceptions (in slots, or in plain threads) to ``handler`` on the GUI thread."""

    raised = Signal(object)  # WorkbenchError

    def __init__(self, handler: Callable[[WorkbenchError], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.raised.connect(handler, Qt.ConnectionType.QueuedConnection)
        self._previous = (sys.excepthook, threading.excepthook)

    def install(self) -> None:
        sys.excepthook = self._excepthook
        threading.excepthook = lambda args: self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def _excepthook(self, exc_type: type[BaseException], exc: BaseException | None,
                    tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt) and exc is not None:  # Ctrl+C in the main thread
            self._previous[0](exc_type, exc, tb)
            return
        traceback.print_exception(exc_type, exc, tb)
        self.raised.emit(exc if isinstance(exc, WorkbenchError) else unexpected_error(exc_type, exc, tb))
