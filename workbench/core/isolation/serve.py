"""The child's side of ``ChildProcess``: ``python -m workbench.core.isolation.serve``.

Protocol: pickles on the child's stdin and stdout (native libraries' own prints are moved to
stderr first, so they cannot corrupt it).

- parent → child: the warm-up callable (or ``None``) once; then ``("call", fn, args, takes_task)``
  requests, one at a time, and ``("cancel",)`` at any moment.
- child → parent: any number of ``("event", data)`` while a call runs, then exactly one
  ``("ok", result)`` or ``("error", (message, hint, detail))``.

A call with ``takes_task`` set gets a ``ChildCall`` as its first argument, to send events and to see
a cancel request. Imports stay minimal (no onnx, no numpy): the callables bring their own.
"""

from __future__ import annotations

import os
import pickle
import queue
import sys
import threading
import traceback

from workbench.core.errors import WorkbenchError


class _Channel:
    """Pickles to the parent; the main thread and the native libraries' callback threads all send here."""

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message) -> None:
        with self._lock:
            pickle.dump(message, self._stream, protocol=pickle.HIGHEST_PROTOCOL)
            self._stream.flush()


class ChildCall:
    """What a streaming call receives: ``send`` an event to the parent; ``cancel_requested`` is set
    when the parent asks the call to stop (a cancelled child is never given another call)."""

    def __init__(self, channel: _Channel):
        self._channel = channel
        self.cancel_requested = threading.Event()

    def send(self, event) -> None:
        self._channel.send(("event", event))


def _read_requests(stdin, requests: queue.Queue, task: ChildCall) -> None:
    while True:
        try:
            message = pickle.load(stdin)
        except (EOFError, OSError):
            break
        except Exception:  # a request naming a function this child cannot import
            requests.put(("unreadable", traceback.format_exc()))
            continue
        if message[0] == "cancel":
            task.cancel_requested.set()
        else:
            requests.put(message)
    task.cancel_requested.set()  # the parent went away: stop working for nobody
    requests.put(None)


def _run(request: tuple, task: ChildCall) -> tuple:
    if request[0] == "unreadable":
        return ("error", ("The child process could not read its request.", "This is a bug; the detail has the "
                          "traceback to report.", request[1]))
    _, fn, args, takes_task = request
    try:
        return ("ok", fn(task, *args) if takes_task else fn(*args))
    except WorkbenchError as exc:  # sent as fields: hint and detail do not survive pickling
        return ("error", (exc.message, exc.hint, exc.detail))
    except Exception as exc:
        return ("error", (f"Unexpected error: {type(exc).__name__}: {exc}",
                          "This is a bug; the detail has the traceback to report.", traceback.format_exc()))


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray native prints land in the captured stderr
    sys.stdout = sys.stderr
    stdin = sys.stdin.buffer
    warm_up = pickle.load(stdin)
    if warm_up is not None:
        warm_up()  # e.g. import TensorRT while no one is waiting
    channel = _Channel(replies)
    task = ChildCall(channel)
    requests: queue.Queue = queue.Queue()
    threading.Thread(target=_read_requests, args=(stdin, requests, task), daemon=True).start()
    while (request := requests.get()) is not None:
        channel.send(_run(request, task))


if __name__ == "__main__":
    main()
    os._exit(0)  # skip interpreter and TensorRT teardown, which takes about a second
