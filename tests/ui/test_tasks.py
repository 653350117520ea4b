"""The background-task helper: the newest start wins, errors reach the one sink, owners can go first.

The functions run on real pool threads; ``threading.Event``s order them against the GUI thread, so
the tests say what happens in each interleaving without timing assumptions.
"""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject

from workbench.core.errors import WorkbenchError
from workbench.ui.session import Session
from workbench.ui.tasks import Task

WAIT_MS = 10_000


class Owner(QObject):
    """Records what its task tells it, through bound methods as a panel would."""

    def __init__(self, session, **options):
        super().__init__()
        self.results, self.errors, self.phases, self.cancelled, self.ends = [], [], [], 0, 0
        self.task = Task(self, session, "test", on_done=self.results.append, on_error=self.errors.append,
                         on_progress=self._progress, on_cancelled=self._cancelled, on_end=self._ended, **options)

    def _progress(self, phase, _fraction):
        self.phases.append(phase)

    def _cancelled(self):
        self.cancelled += 1

    def _ended(self):
        self.ends += 1


@pytest.fixture
def session(backend):
    return Session(backend)


def returns_when(release: threading.Event, value, progress, cancel):
    release.wait(WAIT_MS / 1000)
    return value


def returns(value, progress, cancel):
    return value


def fails(error, progress, cancel):
    raise error


def test_a_stale_result_never_arrives_after_a_second_start(qtbot, session):
    owner = Owner(session)
    release_first, first_started = threading.Event(), threading.Event()

    def first(progress, cancel):
        first_started.set()
        release_first.wait(WAIT_MS / 1000)
        progress("stale progress")  # after the second start: it must not arrive either
        return "stale"  # cancel is ignored on purpose: a stale run that still finishes must not be heard

    first_worker = owner.task.start(first)
    first_done = []
    first_worker.signals.done.connect(lambda: first_done.append(True))
    assert first_started.wait(WAIT_MS / 1000)
    owner.task.start(returns, "fresh")
    assert first_worker.token.cancelled  # replaced means cancelled
    release_first.set()
    qtbot.waitUntil(lambda: not owner.task.running and bool(first_done), timeout=WAIT_MS)
    assert owner.results == ["fresh"] and owner.ends == 1 and owner.cancelled == 0
    assert "stale progress" not in owner.phases


def test_a_result_already_sent_before_the_second_start_is_dropped(qtbot, session):
    owner = Owner(session)
    finished = threading.Event()

    def first(progress, cancel):
        finished.set()
        return "stale"

    owner.task.start(first)
    assert finished.wait(WAIT_MS / 1000)  # its result may already be queued to the GUI thread
    owner.task.start(returns, "fresh")
    qtbot.waitUntil(lambda: not owner.task.running, timeout=WAIT_MS)
    assert owner.results == ["fresh"] and owner.ends == 1


def test_cancel_reports_cancelled_then_ends(qtbot, session):
    owner = Owner(session)
    started = threading.Event()

    def until_cancelled(progress, cancel):
        started.set()
        while not cancel.cancelled:
            time.sleep(0.005)
        return "too late"  # returned after the cancel: the run reports cancelled, not this

    owner.task.start(until_cancelled)
    assert started.wait(WAIT_MS / 1000)
    owner.task.cancel()
    qtbot.waitUntil(lambda: not owner.task.running, timeout=WAIT_MS)
    assert owner.cancelled == 1 and owner.results == [] and owner.ends == 1


def test_abandon_ends_at_once_and_the_run_is_never_heard_of(qtbot, session):
    owner = Owner(session)
    release = threading.Event()
    owner.task.start(returns_when, release, "stale")
    owner.task.abandon()
    assert not owner.task.running and owner.ends == 1
    release.set()
    owner.task.start(returns, "fresh")  # a later run still reports normally
    qtbot.waitUntil(lambda: not owner.task.running, timeout=WAIT_MS)
    assert owner.results == ["fresh"] and owner.ends == 2


def test_errors_reach_the_owner_and_the_one_sink(qtbot, session):
    owner = Owner(session)
    reported, logged = [], []
    session.error_reported.connect(lambda error, in_place: reported.append((error, in_place)))
    session.log_message.connect(logged.append)
    error = WorkbenchError("The model broke.", "Try another one.", "detail")
    owner.task.start(fails, error)
    qtbot.waitUntil(lambda: not owner.task.running, timeout=WAIT_MS)
    assert owner.errors == [error] and reported == [(error, False)]
    assert [(m.severity, m.source, m.text) for m in logged] == [
        ("error", "test", "The model broke. — Try another one.")]


def test_an_unexpected_exception_becomes_an_error_shown_in_place_when_the_owner_says_so(qtbot, session):
    owner = Owner(session, errors_in_place=True)
    reported = []
    session.error_reported.connect(lambda error, in_place: reported.append((error, in_place)))
    owner.task.start(fails, ZeroDivisionError("division by zero"))
    qtbot.waitUntil(lambda: not owner.task.running, timeout=WAIT_MS)
    [(error, in_place)] = reported
    assert in_place and owner.errors == [error]
    assert error.message == "Unexpected error: ZeroDivisionError: division by zero" and "Traceback" in error.detail


def test_several_named_tasks_of_one_owner_run_side_by_side(qtbot, session):
    owner = Owner(session)
    check_results = []
    check = Task(owner, session, "test", on_done=check_results.append)
    release = threading.Event()
    owner.task.start(returns_when, release, "main")
    check.start(returns, "check")  # does not replace the main task's run
    qtbot.waitUntil(lambda: not check.running, timeout=WAIT_MS)
    assert check_results == ["check"] and owner.task.running
    release.set()
    qtbot.waitUntil(lambda: not owner.task.running, timeout=WAIT_MS)
    assert owner.results == ["main"]


def test_a_destroyed_owner_is_never_called(qtbot, session):
    owner = Owner(session)
    results = owner.results
    release = threading.Event()
    worker = owner.task.start(returns_when, release, "orphan")
    finished = []
    worker.signals.done.connect(lambda: finished.append(True))
    owner.deleteLater()
    qtbot.waitUntil(lambda: worker.token.cancelled, timeout=WAIT_MS)  # the run was cancelled with its owner
    release.set()
    qtbot.waitUntil(lambda: bool(finished), timeout=WAIT_MS)
    assert results == []
