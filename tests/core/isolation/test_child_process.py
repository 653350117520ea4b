"""The one child-process engine: results, streamed events, cooperative cancel, crashes, child policies."""

from __future__ import annotations

import threading

import pytest

from tests.core.isolation import child_calls
from workbench.core.isolation.child_process import ChildCrashed, ChildProcess
from workbench.core.progress import Cancelled, CancelToken

# Long enough that the call always stops on its own first; the test then sees the marker it leaves.
GENEROUS_GRACE_SECONDS = 60.0


@pytest.fixture
def child():
    process = ChildProcess()
    yield process
    process.close()


def test_events_stream_in_order_before_the_result(child):
    events = []
    assert child.call(child_calls.count_to, 5, on_event=events.append) == "counted"
    assert events == [{"number": n} for n in range(1, 6)]


def test_cancel_asks_the_call_to_stop_before_any_kill(child, tmp_path):
    marker = tmp_path / "stopped.txt"
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(Cancelled, match="The test call was cancelled"):
        child.call(child_calls.stop_when_asked, str(marker), cancel=token,
                   cancel_grace_seconds=GENEROUS_GRACE_SECONDS, what="The test call")
    assert marker.read_text() == "stopped on request"


def test_a_call_that_ignores_cancel_is_killed_after_the_grace_period(child):
    token = CancelToken()
    threading.Timer(0.3, token.cancel).start()
    with pytest.raises(Cancelled):  # instead of waiting out the call's hour
        child.call(child_calls.ignore_cancel, 3600, cancel=token, cancel_grace_seconds=0.5)
    assert child.call(divmod, 9, 4) == (2, 1)


def test_a_crash_names_the_signal_keeps_stderr_and_earlier_events(child):
    events = []
    with pytest.raises(ChildCrashed) as crash:
        child.call(child_calls.report_then_abort, on_event=events.append, what="The test call")
    assert crash.value.message == "The test call stopped unexpectedly: its process was killed by signal SIGABRT."
    assert crash.value.how == "was killed by signal SIGABRT"
    assert "last words on stderr" in crash.value.detail
    assert events == ["about to abort"]
    assert child.call(divmod, 7, 2) == (3, 1)


def test_prints_on_stdout_do_not_disturb_the_replies(child):
    assert child.call(child_calls.print_then_answer) == 42


def test_one_child_serves_call_after_call(child):
    assert child.call(child_calls.process_id) == child.call(child_calls.process_id)


def test_one_call_per_child_gets_a_fresh_child_each_time():
    process = ChildProcess(one_call_per_child=True)
    try:
        first, second = process.call(child_calls.process_id), process.call(child_calls.process_id)
        assert first != second
    finally:
        process.close()
