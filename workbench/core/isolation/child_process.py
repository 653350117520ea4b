"""Run heavy calls in a separate Python process, one at a time, with cancel and crash detection.

TensorRT's ``supports_model_v2`` and protobuf decoding hold the GIL for hundreds of milliseconds on
large models, so running them in a thread would still freeze a GUI. A ``ChildProcess`` keeps one
warm "spawn" child (imports already done) and runs picklable calls in it. Cancelling kills the
child, and a child that dies (a segfault in a native library) becomes a ``WorkbenchError`` instead
of a hang; either way a fresh child starts with the next call.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from typing import Callable

from workbench.core.errors import WorkbenchError
from workbench.core.progress import Cancelled, CancelToken


def _serve(connection, warm_up: Callable[[], None] | None) -> None:
    if warm_up is not None:
        warm_up()
    while True:
        try:
            request = connection.recv()
        except EOFError:  # the parent went away
            return
        fn, args = request
        try:
            reply = ("ok", fn(*args))
        except WorkbenchError as exc:  # sent as fields: hint and detail do not survive pickling
            reply = ("error", (exc.message, exc.hint, exc.detail))
        except Exception as exc:
            reply = ("error", (f"Unexpected error: {type(exc).__name__}: {exc}",
                               "This is a bug; the detail has the traceback to report.", traceback.format_exc()))
        connection.send(reply)


class ChildProcess:
    def __init__(self, warm_up: Callable[[], None] | None = None, poll_seconds: float = 0.05):
        self._warm_up = warm_up
        self._poll = poll_seconds
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._connection = None
        self._lock = threading.Lock()  # one call at a time; later calls wait their turn

    def start(self) -> None:
        """Start the child now (it warms up while the caller does other things)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        parent_end, child_end = self._context.Pipe()
        self._process = self._context.Process(target=_serve, args=(child_end, self._warm_up), daemon=True,
                                              name="trt-workbench-child")
        self._process.start()
        child_end.close()
        self._connection = parent_end

    def _discard(self) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def call(self, fn: Callable, *args, cancel: CancelToken | None = None, what: str = "The operation"):
        """``fn(*args)`` in the child; ``fn`` and its arguments and result must be picklable."""
        with self._lock:
            self._ensure_started()
            self._connection.send((fn, args))
            while not self._connection.poll(self._poll):
                if cancel is not None and cancel.cancelled:
                    self._discard()
                    raise Cancelled(what)
                if not self._process.is_alive():
                    raise self._died(what)
            try:
                status, payload = self._connection.recv()
            except EOFError:  # the child closed the pipe by dying
                raise self._died(what) from None
        if status == "error":
            raise WorkbenchError(*payload)
        return payload

    def _died(self, what: str) -> WorkbenchError:
        self._process.join(5)
        code = self._process.exitcode
        self._discard()
        return WorkbenchError(f"{what} stopped unexpectedly: its process exited with code {code}.",
                              "A native library (TensorRT, onnx) crashed on this model. The window is "
                              "unaffected; try again, or report the model that causes it.")

    def close(self) -> None:
        with self._lock:
            self._discard()
