"""The one error type the core raises for problems the user can act on."""

from __future__ import annotations


class WorkbenchError(Exception):
    """A failure to show the user as is: what happened, and what to try.

    ``detail`` carries the underlying text (a parser message, an exception string) for the
    "details" part of a dialog or for ``--debug``; ``message`` and ``hint`` are written for people.
    """

    def __init__(self, message: str, hint: str = "", detail: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()
