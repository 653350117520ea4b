"""The one way the core runs native code away from the caller: calls in a child Python process.

TensorRT's parser and builder can abort the whole process (an internal assertion, an out-of-memory
kill), and ``supports_model_v2`` and protobuf decoding hold the GIL for hundreds of milliseconds,
so a thread would still freeze a window. A ``ChildProcess`` runs picklable calls in a child
(``python -m workbench.core.isolation.serve``) that is started ahead of time with its imports done:

- a call can stream events (log lines, progress) to an ``on_event`` callback as it runs;
- cancelling asks the call to stop (it sees ``ChildCall.cancel_requested``) and kills the child after
  ``cancel_grace_seconds`` (at once when that is 0), then raises ``Cancelled``;
- a child that dies becomes a ``ChildCrashed`` error naming the exit code or signal, with the
  child's captured stderr as the detail; the next call gets a fresh child.

Two policies: by default one child serves call after call (the window's support analysis). With
``one_call_per_child`` each child serves a single call, so no native state leaks from one call to
the next, and a spare is started when a call ends (builds: small ones pay no start-up, and the
spare's start-up never competes with a running build) unless ``spare_after_call`` is False (a command
line that ends after its work: the spare would only be killed at exit). Calls may run concurrently,
each in a child of its own.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from workbench.core.errors import WorkbenchError
from workbench.core.progress import Cancelled, CancelToken

_POLL_SECONDS = 0.02
_STDERR_TAIL_BYTES = 4000
_EXIT_WAIT_SECONDS = 5.0
_PROJECT_ROOT = str(Path(__file__).resolve().parents[3])


class ChildCrashed(WorkbenchError):
    """The child process died during a call; ``how`` says how ("was killed by signal SIGABRT")."""

    def __init__(self, what: str, how: str, stderr_tail: str):
        super().__init__(f"{what} stopped unexpectedly: its process {how}.",
                         "A native library (TensorRT, onnx) crashed on this model. The window is unaffected; "
                         "try again, or report the model that causes it.", stderr_tail)
        self.how = how
        self.stderr_tail = stderr_tail


class _Child:
    """One started child: its process, a thread reading its replies into a queue, its captured stderr."""

    def __init__(self, warm_up: Callable[[], object] | None):
        self._stderr = tempfile.TemporaryFile()  # read only after a crash; a pipe could fill and block the child
        search_path = os.pathsep.join(filter(None, [_PROJECT_ROOT, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": search_path}
        self.process = subprocess.Popen([sys.executable, "-m", "workbench.core.isolation.serve"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        assert self.process.stdin and self.process.stdout  # both asked for with PIPE
        self._to_child, self._from_child = self.process.stdin, self.process.stdout
        self.replies: queue.Queue = queue.Queue()
        self.send(warm_up)
        threading.Thread(target=self._read_replies, daemon=True, name="trt-workbench-child-replies").start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: object) -> None:
        try:
            pickle.dump(message, self._to_child, protocol=pickle.HIGHEST_PROTOCOL)
            self._to_child.flush()
        except OSError:  # the child died (a broken pipe); the reply reader reports it
            pass

    def _read_replies(self) -> None:
        while True:
            try:
                self.replies.put(pickle.load(self._from_child))
            except Exception:  # end of stream, or a reply cut short by the child's death
                break
        self.replies.put(None)

    def kill(self) -> None:
        if self.alive:
            self.process.kill()

    def crashed(self, what: str) -> ChildCrashed:
        try:
            code = self.process.wait(_EXIT_WAIT_SECONDS)
        except subprocess.TimeoutExpired:  # it closed its output but lingers
            self.process.kill()
            code = self.process.wait()
        if code < 0:
            try:
                how = f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        self._stderr.seek(0)
        tail = self._stderr.read()[-_STDERR_TAIL_BYTES:].decode(errors="replace").strip()
        return ChildCrashed(what, how, tail)

    def end(self) -> None:
        self.kill()
        self.process.wait()
        for stream in (self._to_child, self._from_child, self._stderr):
            try:
                stream.close()
            except OSError:
                pass


class ChildProcess:
    def __init__(self, warm_up: Callable[[], object] | None = None, *, one_call_per_child: bool = False,
                 spare_after_call: bool = True):
        """``warm_up`` (picklable, e.g. a ``functools.partial``) runs first in every child. With
        ``one_call_per_child``, ``spare_after_call`` starts the next call's child as soon as a call ends."""
        self._warm_up = warm_up
        self._one_call_per_child = one_call_per_child
        self.spare_after_call = spare_after_call
        self._ready: _Child | None = None
        self._running: set[_Child] = set()  # children in a call
        self._closed = False  # no spare is kept after ``close`` until ``start``
        self._lock = threading.Lock()
        atexit.register(self.close)

    def start(self) -> None:
        """Start the next call's child now (it warms up while the caller does other things)."""
        with self._lock:
            self._closed = False
            if self._ready is not None and self._ready.alive:
                return
            if self._ready is not None:
                self._ready.end()
            self._ready = _Child(self._warm_up)

    def call(self, fn: Callable, *args, cancel: CancelToken | None = None,
             on_event: Callable[[Any], None] | None = None, cancel_grace_seconds: float = 0.0,
             what: str = "The operation") -> Any:
        """``fn(*args)`` in a child; ``fn``, its arguments and its result must be picklable.

        With ``on_event`` or a cancel grace period, the child calls ``fn(task, *args)``: every
        ``task.send(event)`` reaches ``on_event`` in this thread, and a cancel sets
        ``task.cancel_requested`` ``cancel_grace_seconds`` before the kill. Raises ``Cancelled`` once
        ``cancel`` is set and the child has stopped, ``ChildCrashed`` if the child dies, and the
        call's own ``WorkbenchError``.
        """
        cancel = cancel or CancelToken()
        child = self._take()
        reusable = False
        try:
            takes_task = on_event is not None or cancel_grace_seconds > 0
            child.send(("call", fn, args, takes_task))
            reply = self._await_reply(child, cancel, on_event, cancel_grace_seconds)
            if cancel.cancelled:
                raise Cancelled(what)
            if reply is None:
                raise child.crashed(what)
            reusable = True
        finally:
            self._release(child, reusable)
        status, payload = reply
        if status == "error":
            raise WorkbenchError(*payload)
        return payload

    @staticmethod
    def _await_reply(child: _Child, cancel: CancelToken, on_event, grace_seconds: float) -> tuple | None:
        """The call's reply, relaying events until it comes; ``None`` when the child ended without one."""
        kill_at = None
        while True:
            if cancel.cancelled and kill_at is None:
                kill_at = time.monotonic() + grace_seconds
                if grace_seconds > 0:
                    child.send(("cancel",))
            if kill_at is not None and time.monotonic() >= kill_at:
                child.kill()
            try:
                reply = child.replies.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if reply is None or reply[0] != "event":
                return reply
            if on_event is not None:
                on_event(reply[1])

    def _take(self) -> _Child:
        with self._lock:
            child, self._ready = self._ready, None
        if child is None or not child.alive:
            if child is not None:
                child.end()
            child = _Child(self._warm_up)
        with self._lock:
            self._running.add(child)
        return child

    def _release(self, child: _Child, reusable: bool) -> None:
        with self._lock:
            self._running.discard(child)
            closed = self._closed
            if reusable and not self._one_call_per_child and not closed and self._ready is None:
                self._ready = child
                return
        child.end()
        if self._one_call_per_child and self.spare_after_call and not closed:
            self.start()  # after the call, so the spare's start-up does not compete with it for the CPU

    def close(self) -> None:
        """End every child: the waiting one, and those in a call (the call raises ``ChildCrashed``). No spare is
        kept afterwards; a later call still runs, in a child of its own."""
        with self._lock:
            self._closed = True
            waiting, self._ready = self._ready, None
            running = list(self._running)
        for child in running:
            child.kill()  # its call sees the child end; ``_release`` reaps it
        if waiting is not None:
            waiting.end()
