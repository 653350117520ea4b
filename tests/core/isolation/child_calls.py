"""Calls the isolation tests run in a child process (importable there, so picklable by reference)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from workbench.core.isolation.serve import ChildCall

_CANCEL_POLL_SECONDS = 0.01


def count_to(task: ChildCall, count: int) -> str:
    for number in range(1, count + 1):
        task.send({"number": number})
    return "counted"


def stop_when_asked(task: ChildCall, marker: str) -> str:
    """Runs until the parent asks it to stop, then leaves ``marker`` behind as proof it saw the request."""
    while not task.cancel_requested.is_set():
        time.sleep(_CANCEL_POLL_SECONDS)
    Path(marker).write_text("stopped on request")
    return "stopped"


def report_then_abort(task: ChildCall) -> None:
    task.send("about to abort")
    sys.stderr.write("last words on stderr\n")
    sys.stderr.flush()
    os.abort()


def print_then_answer() -> int:
    os.write(1, b"a native library printing on stdout\n")
    print("and Python printing too")
    return 42


def process_id() -> int:
    return os.getpid()


def ignore_cancel(task: ChildCall, seconds: float) -> str:
    time.sleep(seconds)
    return "slept through the cancel"


def report_then_sleep(task: ChildCall, seconds: float) -> str:
    task.send("sleeping")
    time.sleep(seconds)
    return "slept"
