"""Third-party loggers (onnxruntime, onnx-graphsurgeon) as our own log messages.

onnx-graphsurgeon's ``G_LOGGER`` prints ``[W] …`` lines with ``print`` (so onto stdout, which breaks
``--json``), and onnxruntime's native logger writes coloured ``[W:onnxruntime:…]`` lines straight to
file descriptor 2. Here both become ``LogMessage``s:

- ``install()`` routes ``G_LOGGER`` (and onnxslim's copy of it and its ``logging`` logger) into
  ``emit`` and sets onnxruntime's default log severity, which governs the sessions graphsurgeon
  makes while folding; our own sessions take ``session_options()``. It only touches libraries
  already imported (a plain analysis never imports onnxruntime or graphsurgeon), so code that is
  about to use one calls it again after importing it.
- ``emit`` hands each message to the collectors this thread opened with ``collect()`` (a fix's
  warnings, a CLI command's log) and to the process-wide listeners (the window's Log panel).
- ``capture_output()`` is for the CLI: native writes to fd 1/2 (which no Python hook sees) go to a
  temporary file while a command runs and come back as messages.
"""

from __future__ import annotations

import contextlib
import faulthandler
import io
import logging
import os
import re
import sys
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from typing import Callable, Iterator

from workbench.core.backend import LogMessage

# onnxruntime severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal. Its warnings are optimizer
# chatter nobody can act on ("Removing initializer …"); every error also raises, and we report that —
# and the shape probe makes runs fail on purpose, whose ERROR lines would only be noise.
ONNXRUNTIME_LOG_SEVERITY = 4
_ONNXRUNTIME_SEVERITY_NAMES = {"V": "verbose", "I": "info", "W": "warning", "E": "error", "F": "error"}
# "2026-11-23 20:21:49.49 [W:onnxruntime:, constant_folding.cc:589 ApplyImpl] Could not find …"
_ONNXRUNTIME_LINE = re.compile(r"\[(?P<letter>[VIWEF]):onnxruntime:[^\]]*\]\s*(?P<text>.*)")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

_lock = threading.Lock()
_local = threading.local()  # .collectors: the lists this thread's ``collect()`` blocks fill
_listeners: list[weakref.ref] = []


def session_options():
    """Options for every onnxruntime session we make: its logger at our severity."""
    import onnxruntime

    install()
    options = onnxruntime.SessionOptions()
    options.log_severity_level = ONNXRUNTIME_LOG_SEVERITY
    return options


# Graphsurgeon-style loggers (a G_LOGGER that prints): graphsurgeon's own, and the copy onnxslim vendors.
_GRAPHSURGEON_LOGGERS = {"onnx_graphsurgeon.logger": "onnx-graphsurgeon",
                         "onnxslim.third_party.onnx_graphsurgeon.logger": "onnxslim"}
# Python ``logging`` loggers of those libraries (unhandled, their warnings would reach stderr raw).
_PYTHON_LOGGERS = {"onnxslim": "onnxslim"}
_routed: set[str] = set()


def install() -> None:
    """Route the imported libraries' loggers into ``emit`` and quiet onnxruntime's default logger.

    Idempotent and cheap; call it again after importing onnxruntime, onnx-graphsurgeon or onnxslim
    (each is handled once it is imported, so commands that never use one don't pay for importing it).
    """
    with _lock:
        if "onnxruntime" in sys.modules and "onnxruntime" not in _routed:
            sys.modules["onnxruntime"].set_default_logger_severity(ONNXRUNTIME_LOG_SEVERITY)
            _routed.add("onnxruntime")
        for module_name, source in _GRAPHSURGEON_LOGGERS.items():
            if module_name not in _routed and module_name in sys.modules:
                _route_graphsurgeon_logger(sys.modules[module_name].G_LOGGER, source)
                _routed.add(module_name)
        for logger_name, source in _PYTHON_LOGGERS.items():
            if logger_name not in _routed and logger_name.split(".")[0] in sys.modules:
                python_logger = logging.getLogger(logger_name)
                python_logger.addHandler(_ForwardingHandler(source))
                python_logger.propagate = False
                _routed.add(logger_name)


def _route_graphsurgeon_logger(g_logger, source: str) -> None:
    g_logger.severity = g_logger.WARNING  # its info/debug lines narrate folding step by step
    g_logger.colors = False  # else its first message is "colored module is not installed"
    severity_names = {g_logger.CRITICAL: "error", g_logger.ERROR: "error", g_logger.WARNING: "warning",
                      g_logger.INFO: "info"}

    def log(message, severity, mode=None, stack_depth=2):
        # Replaces Logger.log on the instance (warning()/error()/critical() call self.log); keeps its
        # threshold but never prints. critical() still raises after logging, as before.
        if severity < g_logger.severity:
            return
        text = str(message() if callable(message) else message)
        emit(LogMessage(severity_names.get(severity, "verbose"), text, source))

    g_logger.log = log


class _ForwardingHandler(logging.Handler):
    def __init__(self, source: str):
        super().__init__(logging.WARNING)
        self.source = source

    def emit(self, record: logging.LogRecord) -> None:
        severity = "error" if record.levelno >= logging.ERROR else "warning"
        emit(LogMessage(severity, record.getMessage(), self.source))


def emit(message: LogMessage) -> None:
    for collector in getattr(_local, "collectors", ()):
        collector.append(message)
    for ref in list(_listeners):
        listener = ref()
        if listener is None:
            _listeners.remove(ref)
        else:
            listener(message)


def add_listener(listener: Callable[[LogMessage], None]) -> None:
    """Also send every message to ``listener`` (held weakly: a closed window's session drops out)."""
    install()
    _listeners.append(weakref.WeakMethod(listener) if hasattr(listener, "__self__") else weakref.ref(listener))


@contextlib.contextmanager
def collect() -> Iterator[list[LogMessage]]:
    """The messages emitted by this thread while the block runs."""
    install()
    messages: list[LogMessage] = []
    stack = _local.__dict__.setdefault("collectors", [])
    stack.append(messages)
    try:
        yield messages
    finally:  # by identity: an enclosing block's list may be equal to this one (both empty)
        del stack[next(i for i, collector in enumerate(stack) if collector is messages)]


def parse_native_output(text: str, source: str) -> list[LogMessage]:
    """Lines a library wrote to fd 1/2 as messages: onnxruntime's by their own severity, others as info."""
    messages = []
    for line in _ANSI_ESCAPE.sub("", text).splitlines():
        if not line.strip():
            continue
        match = _ONNXRUNTIME_LINE.search(line)
        if match:
            messages.append(LogMessage(_ONNXRUNTIME_SEVERITY_NAMES[match["letter"]], match["text"], "onnxruntime"))
        else:
            messages.append(LogMessage("info", line, source))
    return messages


@dataclass
class CapturedOutput:
    """What ``capture_output`` caught; ``messages`` is complete once the block has ended."""

    messages: list[LogMessage] = field(default_factory=list)


def _writes_to(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, io.UnsupportedOperation):  # pytest's capsys, a StringIO
        return False


@contextlib.contextmanager
def capture_output(*, stdout_too: bool) -> Iterator[CapturedOutput]:
    """Send whatever native code writes to fd 2 (and fd 1 with ``stdout_too``) to temporary files.

    Python's ``sys.stderr`` (and ``sys.stdout`` unless ``stdout_too``) keep writing to the terminal,
    so our own progress and text output stay live; with ``stdout_too`` anything printed to stdout in
    the block is captured too, so the caller can write one JSON object there afterwards. Captured
    text becomes ``messages`` (onnxruntime's lines parsed, the rest kept as they were).
    """
    captured = CapturedOutput()
    fds = (1, 2) if stdout_too else (2,)
    saved_stdout, saved_stderr = sys.stdout, sys.stderr
    saved_fds, files = {}, {}
    faulthandler_was_on = faulthandler.is_enabled()
    saved_stdout.flush()
    saved_stderr.flush()
    with collect() as collected:
        try:
            for fd in fds:
                saved_fds[fd] = os.dup(fd)
                files[fd] = tempfile.TemporaryFile()
                os.dup2(files[fd].fileno(), fd)
            if _writes_to(saved_stderr, 2):  # our own stderr lines stay live on the terminal
                sys.stderr = open(os.dup(saved_fds[2]), "w", buffering=1, errors="backslashreplace")
                # A native crash (an abort in a library) ends the process before the capture is read:
                # at least the fatal signal and the Python stack reach the terminal.
                faulthandler.enable(file=sys.stderr)
            if stdout_too:  # every Python-level print joins the capture, even under pytest's capsys
                sys.stdout = open(os.dup(1), "w", buffering=1, errors="backslashreplace")
            yield captured
        finally:
            if sys.stderr is not saved_stderr:
                faulthandler.disable()
                if faulthandler_was_on:  # e.g. pytest's
                    faulthandler.enable(file=saved_stderr)
            for name, saved in (("stdout", saved_stdout), ("stderr", saved_stderr)):
                if getattr(sys, name) is not saved:
                    getattr(sys, name).close()
                    setattr(sys, name, saved)
            for fd, saved_fd in saved_fds.items():
                os.dup2(saved_fd, fd)
                os.close(saved_fd)
            captured.messages.extend(collected)
            for fd, file in files.items():
                file.seek(0)
                text = file.read().decode(errors="replace")
                file.close()
                captured.messages.extend(parse_native_output(text, "stdout" if fd == 1 else "stderr"))
