"""Progress reporting and cancellation for long core operations, without Qt.

Long functions take ``progress: ProgressFn`` and ``cancel: CancelToken`` arguments. The UI's worker
connects ``progress`` to a signal and sets the token from its Cancel button; the CLI passes
``print_progress`` or nothing.
"""

from __future__ import annotations

import threading
from typing import Callable

from workbench.core.errors import WorkbenchError

# (phase text, fraction done in [0, 1], or None when unknown)
ProgressFn = Callable[[str, "float | None"], None]


def no_progress(_phase: str, _fraction: float | None = None) -> None:
    pass


class Cancelled(WorkbenchError):
    def __init__(self, what: str = "The operation"):
        super().__init__(f"{what} was cancelled.", "Nothing was changed.")


class CancelToken:
    """Set from any thread; checked by the work at its safe points."""

    def __init__(self):
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self, what: str = "The operation") -> None:
        if self._event.is_set():
            raise Cancelled(what)
