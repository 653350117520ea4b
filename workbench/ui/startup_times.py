"""When the window first paints, for ``benchmarks/bench_window.py``: ``TRT_WORKBENCH_REPORT_TIMES=1``.

With that variable set, the app prints one ``trt-workbench-time EVENT SECONDS`` line on stderr per start-up event
(``reported_times`` reads them back), SECONDS being ``time.monotonic()``: a system-wide clock on Linux, so a parent
that noted it just before starting the process subtracts the two. Only PySide6 is imported here, so the
benchmark's bare-window baseline reports its own first paint with the same code and pays nothing else for it.
"""

from __future__ import annotations

import os
import re
import sys
import time

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

REPORT_TIMES_VARIABLE = "TRT_WORKBENCH_REPORT_TIMES"
FIRST_PAINT, ANALYSIS_SHOWN, SETTLED = "first-paint", "analysis-shown", "settled"  # the events reported
REPORT_PREFIX = "trt-workbench-time"
# Chromium's processes write on the same stderr, not always whole lines: a report is found anywhere in the text.
REPORT_PATTERN = re.compile(REPORT_PREFIX + r" ([a-z-]+) ([0-9]+\.[0-9]{6})")


def times_requested() -> bool:
    return os.environ.get(REPORT_TIMES_VARIABLE) == "1"


def report_time(event: str) -> None:
    sys.stderr.write(f"{REPORT_PREFIX} {event} {time.monotonic():.6f}\n")  # one write: one line
    sys.stderr.flush()


def reported_times(text: str) -> list[tuple[str, float]]:
    """The (event, monotonic seconds) reports in a process's stderr ``text``, in order."""
    return [(event, float(seconds)) for event, seconds in REPORT_PATTERN.findall(text)]


class FirstPaintReport(QObject):
    """Reports ``first-paint`` once the first paint of any widget in ``window`` is on screen.

    The filter sits on the application because a top-level window covered by its children never receives a
    paint event itself. Qt paints and flushes the whole window in one pass when it is first exposed; the report
    is queued behind that pass, so it comes after the flush. Create it before ``window.show()``.
    """

    reported = Signal()  # after the line was printed

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        application = QCoreApplication.instance()
        assert application is not None, "the QApplication exists before its window"
        application.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget) and watched.window() is self.window:
            application = QCoreApplication.instance()
            if application is not None:
                application.removeEventFilter(self)
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        report_time(FIRST_PAINT)
        self.reported.emit()
