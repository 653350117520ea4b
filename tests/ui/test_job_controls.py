"""The job controls every job panel and dialog shows: Run, Cancel and the bar follow the tasks' runs.

The functions run on real pool threads; ``threading.Event``s order them against the GUI thread (as in
``test_tasks.py``), so each test says what the controls show at each point without timing assumptions.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog, QWidget

from workbench.core.errors import WorkbenchError
from workbench.ui.job_controls import CANCELLING, IDLE, STARTING, JobControls, ask_for_folder
from workbench.ui.session import Session

WAIT_MS = 10_000


class Owner(QWidget):
    """A panel with one job row and two tasks; it records what its tasks tell it and what the row showed."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.ready = True
        self.jobs = JobControls(session, "Run", can_run=lambda: self.ready, parent=self)
        self.results, self.errors, self.cancelled = [], [], 0
        self.seen_at_end: list[tuple[str, bool, bool]] = []  # the bar's text, Run and Cancel when on_end came
        self.task = self.jobs.add_task(self, "test", on_done=self.results.append, on_error=self.errors.append,
                                       on_cancelled=self._cancelled, on_end=self._ended, errors_in_place=True,
                                       announce="Testing")
        self.other = self.jobs.add_task(self, "test", on_done=self.results.append, on_end=self._ended)

    def _cancelled(self) -> None:
        self.cancelled += 1

    def _ended(self) -> None:
        jobs = self.jobs
        self.seen_at_end.append((jobs.progress.format(), jobs.run_button.isEnabled(), jobs.cancel_button.isEnabled()))


@pytest.fixture
def owner(qtbot, backend):
    owner = Owner(Session(backend))
    qtbot.addWidget(owner)
    return owner


def reports_then_returns(started: threading.Event, release: threading.Event, value, progress, cancel):
    progress("Reading", 0.4)
    progress("Searching", None)
    started.set()
    release.wait(WAIT_MS / 1000)
    return value


def until_cancelled(started: threading.Event, progress, cancel):
    started.set()
    while not cancel.cancelled:
        time.sleep(0.01)
    return "too late"


def returns(value, progress, cancel):
    return value


def fails(progress, cancel):
    raise WorkbenchError("It broke.", "Try again.")


def test_a_run_disables_run_shows_its_phases_and_ends_idle_before_the_owner_hears(qtbot, owner):
    jobs, started, release = owner.jobs, threading.Event(), threading.Event()
    formats = []
    jobs.progress.valueChanged.connect(lambda _value: formats.append(jobs.progress.format()))
    with qtbot.waitSignal(jobs.session.busy_changed) as busy:
        jobs.start(owner.task, reports_then_returns, started, release, "result")
    assert busy.args == [True, "Testing"]  # the window's status bar says what runs
    assert not jobs.run_button.isEnabled() and jobs.cancel_button.isEnabled()
    assert jobs.progress.format() == STARTING and jobs.running
    assert started.wait(WAIT_MS / 1000)
    qtbot.waitUntil(lambda: jobs.progress.format() == "Searching", timeout=WAIT_MS)
    assert "Reading %p%" in formats  # the phase with a fraction shows its percentage
    assert (jobs.progress.minimum(), jobs.progress.maximum()) == (0, 0)  # no fraction: the bar just moves
    with qtbot.waitSignal(jobs.session.busy_changed, timeout=WAIT_MS) as idle:
        release.set()
    assert idle.args == [False, ""]
    qtbot.waitUntil(lambda: not jobs.running, timeout=WAIT_MS)
    assert owner.results == ["result"] and owner.seen_at_end == [(IDLE, True, False)]


def test_cancel_says_so_until_the_run_ends_then_the_owner_hears_cancelled(qtbot, owner):
    jobs, started = owner.jobs, threading.Event()
    jobs.start(owner.task, until_cancelled, started)
    assert started.wait(WAIT_MS / 1000)
    jobs.cancel_button.click()
    assert jobs.progress.format() == CANCELLING and not jobs.cancel_button.isEnabled()
    assert not jobs.run_button.isEnabled()  # not before the run has ended
    qtbot.waitUntil(lambda: not jobs.running, timeout=WAIT_MS)
    assert owner.cancelled == 1 and owner.results == []  # its late result does not arrive
    assert owner.seen_at_end == [(IDLE, True, False)]


def test_an_error_ends_the_same_way(qtbot, owner):
    owner.jobs.start(owner.task, fails)
    qtbot.waitUntil(lambda: not owner.jobs.running, timeout=WAIT_MS)
    assert [error.message for error in owner.errors] == ["It broke."]
    assert owner.seen_at_end == [(IDLE, True, False)]


def test_run_follows_can_run_and_one_task_ending_leaves_the_others_run_shown(qtbot, owner):
    jobs, started, release = owner.jobs, threading.Event(), threading.Event()
    owner.ready = False
    jobs.refresh()
    assert not jobs.run_button.isEnabled()  # e.g. no model
    owner.ready = True
    jobs.refresh()
    assert jobs.run_button.isEnabled()
    jobs.start(owner.task, reports_then_returns, started, release, "slow")
    assert started.wait(WAIT_MS / 1000)
    jobs.start(owner.other, returns, "quick")
    qtbot.waitUntil(lambda: owner.results == ["quick"] and not owner.other.running, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(owner.seen_at_end) == 1, timeout=WAIT_MS)
    text, run_enabled, cancel_enabled = owner.seen_at_end[0]
    assert text != IDLE and not run_enabled and cancel_enabled  # the slow one still runs
    release.set()
    qtbot.waitUntil(lambda: not jobs.running, timeout=WAIT_MS)
    assert owner.results == ["quick", "slow"] and owner.seen_at_end[1] == (IDLE, True, False)


def test_the_folder_chooser_hands_the_chosen_folder_to_the_write_action(qtbot, tmp_path):
    dialog = QDialog()
    qtbot.addWidget(dialog)
    chosen: list[str] = []
    chooser = ask_for_folder(dialog, "Folder for the report", chosen.append)
    assert chooser.isVisible() and chooser.windowTitle() == "Folder for the report"
    (tmp_path / "report").mkdir()
    chooser.selectFile(str(tmp_path / "report"))
    chooser.accept()
    assert [Path(folder) for folder in chosen] == [tmp_path / "report"]
