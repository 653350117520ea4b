"""What every command shares on the way out: exit codes, the outcome (text or one JSON object),
the one progress printer, errors on stderr, and the third-party libraries' log."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable

from workbench.core.errors import WorkbenchError
from workbench.core.progress import ProgressFn, no_progress

EXIT_OK, EXIT_PROBLEMS, EXIT_ERROR = 0, 1, 2


@dataclass
class Outcome:
    """A command's result: its exit code, its JSON object (--json) and its text (else)."""

    code: int
    data: dict = field(default_factory=dict)
    text: str = ""


def progress_printer(args) -> ProgressFn:
    """Each phase on its own stderr line, when a person watches (a terminal, and no --json)."""
    if args.json or not sys.stderr.isatty():
        return no_progress

    def show(phase: str, _fraction: float | None = None) -> None:
        print(f"  {phase}…", file=sys.stderr)

    return show


def write_json(data: dict) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def error_reply(error: WorkbenchError) -> dict:
    return {"error": {"message": error.message, "hint": error.hint, "detail": error.detail}}


def run_command(run: Callable, args) -> tuple[Outcome, WorkbenchError | None]:
    """(outcome, the error that stopped the command); errors are also printed on stderr."""
    try:
        return run(args), None
    except WorkbenchError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        if args.debug:
            if exc.detail:
                print(exc.detail, file=sys.stderr)
            traceback.print_exc()
        return Outcome(EXIT_ERROR), exc
    except Exception as exc:  # an unexpected failure still gets a one-line message, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("hint: run again with --debug for the traceback, and report it.", file=sys.stderr)
        if args.debug:
            traceback.print_exc()
        return Outcome(EXIT_ERROR), WorkbenchError(f"{type(exc).__name__}: {exc}", "Run again with --debug for "
                                                   "the traceback, and report it.", traceback.format_exc())


def print_library_log(log: list, debug: bool) -> None:
    """Text mode: the libraries' warnings in one line per source (all of them with --debug); what
    matters to a result (e.g. a fold that could not run) is already in that result's own warnings."""
    serious = [m for m in log if m.severity in ("warning", "error", "internal_error")]
    if debug:
        for message in serious:
            print(f"{message.source} {message.severity}: {message.text}", file=sys.stderr)
        return
    for source in dict.fromkeys(m.source for m in serious):
        count = sum(m.source == source for m in serious)
        print(f"note: {source} logged {count} warning(s) or error(s); --debug prints them, --json lists them "
              "under 'log'.", file=sys.stderr)
