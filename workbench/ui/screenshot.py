"""``trt-workbench MODEL --screenshot OUT.png``: the whole window, once the work on the model is done.

``ScreenshotJob`` waits until the model is open and analysed, the trial build has finished and the
graph shows the problem marks, lets the window paint, grabs it and writes the PNG atomically. It
ends with exit code 0, or 2 and the reason (the model failed to open, a timeout naming what was
still pending, the file could not be written).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from workbench.core.errors import WorkbenchError

if TYPE_CHECKING:  # display_problem is asked before Qt starts: this module does not load the window
    from workbench.ui.main_window import MainWindow

EXIT_OK, EXIT_ERROR = 0, 2
POLL_MS = 100
SETTLE_MS = 600  # after the last mark: Netron's page composites its final frame
DEFAULT_TIMEOUT_S = 180.0


def display_problem() -> str:
    """Why no window can be shown here ("" when one can)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith("offscreen") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return "there is no display (DISPLAY and WAYLAND_DISPLAY are unset); run it under xvfb-run"


def pending_work(window: MainWindow) -> str:
    """What the window is still working on before it shows where the model stands ("" when nothing)."""
    if window.session.report is None or window.loader.busy:
        return "the model to open and be analysed"
    if window.trial_build.busy:
        return "the trial build"
    if not getattr(window.panels.get("graph"), "marks_current", True):
        return "the graph to show the problem marks"
    return ""


class ScreenshotJob(QObject):
    finished = Signal(int, str)  # exit code, what happened (the path written, or the reason it was not)

    def __init__(self, window: MainWindow, path: str | os.PathLike, timeout_s: float = DEFAULT_TIMEOUT_S,
                 parent: QObject | None = None) -> None:
        super().__init__(parent or window)
        self.window = window
        self.path = Path(path).expanduser().resolve()
        self.timeout_s = timeout_s
        self.started = time.monotonic()
        self.done = False
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._check)
        window.loader.failed.connect(self._failed)

    def start(self) -> "ScreenshotJob":
        self._poll.start()
        return self

    def waiting_for(self) -> str:
        return pending_work(self.window)

    def _check(self) -> None:
        pending = self.waiting_for()
        if not pending:
            self._poll.stop()
            QTimer.singleShot(SETTLE_MS, self._capture)
        elif time.monotonic() - self.started > self.timeout_s:
            self._finish(EXIT_ERROR, f"timed out after {self.timeout_s:.0f} s waiting for {pending}")

    def _failed(self, error: WorkbenchError) -> None:
        self._finish(EXIT_ERROR, error.message + (f" ({error.hint})" if error.hint else ""))

    def _capture(self) -> None:
        if self.waiting_for():  # something started again meanwhile (e.g. a re-analysis)
            self._poll.start()
            return
        image = self.window.grab().toImage()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(suffix=".png", dir=self.path.parent)
            os.close(handle)
            if not image.save(temporary):  # PNG, from the file's suffix
                os.unlink(temporary)
                raise OSError(f"Qt could not encode or write {temporary}")
            os.replace(temporary, self.path)
        except OSError as exc:
            self._finish(EXIT_ERROR, f"could not write {self.path}: {exc}")
            return
        self._finish(EXIT_OK, f"wrote {self.path} ({image.width()}x{image.height()}, the whole window)")

    def _finish(self, code: int, message: str) -> None:
        if not self.done:
            self.done = True
            self._poll.stop()
            self.finished.emit(code, message)
