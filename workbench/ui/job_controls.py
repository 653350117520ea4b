"""Run, Cancel and a progress bar over a panel's or dialog's background tasks: one wiring for every job.

``JobControls`` is the row every job panel and dialog shows: its Run button (optional), the owner's
own buttons (``extra``), Cancel, and a progress bar whose text is the job's phase. Its tasks are
made by it (``add_task``), so starts, progress reports and ends all go one way:

- ``start(task, fn, ...)``: Run disabled, Cancel enabled, the bar busy ("starting"); a task made with
  ``announce`` also says what runs in the window's status bar;
- progress: the bar shows the phase (its tooltip too, for long phases), with the percentage when the
  phase has a fraction, or moves without one;
- ``cancel()`` (the Cancel button): the bar says "cancelling…" and Cancel stays disabled until the run
  ends (it still reports ``on_cancelled``);
- the end, whichever way (done, error, cancelled, abandoned): the bar idle, Run enabled when
  ``can_run()`` says so, Cancel disabled; then the task's own ``on_end``.

The owner keeps what is its own: its results (``on_done``), its messages (``on_error``,
``on_cancelled``) and its other buttons (``running`` says whether a job of these controls runs;
``refresh()`` re-reads ``can_run`` when what it depends on changes, e.g. a new model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from workbench.ui.session import Session
from workbench.ui.tasks import Task
from workbench.ui.worker import Worker

IDLE = "idle"
STARTING = "starting"
CANCELLING = "cancelling…"


def _always() -> bool:
    return True


class JobControls(QWidget):
    """[Run] [extra …] [Cancel] [progress] over the tasks made by ``add_task``. See the module docstring."""

    def __init__(self, session: Session, run_text: str = "", *, can_run: Callable[[], bool] = _always,
                 extra: Sequence[QWidget] = (), bar_below: bool = False, parent: QWidget | None = None) -> None:
        """``run_text``: the Run button's text (empty: the Run button is hidden, e.g. a dialog that starts on opening);
        ``bar_below``: the bar on a line of its own, under the buttons (for a narrow panel with many buttons)."""
        super().__init__(parent)
        self.session = session
        self.can_run = can_run
        self._tasks: list[Task] = []
        self._announcements: dict[Task, str] = {}  # what the window's status bar says while the task runs
        self._cancelling = False
        self.run_button = QPushButton(run_text, self)
        self.run_button.setVisible(bool(run_text))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for widget in ([self.run_button] if run_text else []) + [*extra, self.cancel_button]:
            buttons.addWidget(widget)
        if bar_below:
            layout = QVBoxLayout(self)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addLayout(buttons)
            layout.addWidget(self.progress)
        else:
            buttons.addWidget(self.progress, 1)
            self.setLayout(buttons)
        self._show_idle()

    def add_task(self, owner: QObject, source: str, *, on_done: Callable | None = None,
                 on_error: Callable | None = None, on_cancelled: Callable | None = None,
                 on_end: Callable | None = None, errors_in_place: bool = False, announce: str = "") -> Task:
        """A task of ``owner`` shown by these controls (arguments as ``Task``'s); ``announce``: what the
        window's status bar says while it runs (empty: nothing)."""
        task = Task(owner, self.session, source, on_done=on_done, on_error=on_error, on_progress=self.show_progress,
                    on_cancelled=on_cancelled, on_end=partial(self._ended, bool(announce), on_end),
                    errors_in_place=errors_in_place)
        self._tasks.append(task)
        if announce:
            self._announcements[task] = announce
        return task

    @property
    def running(self) -> bool:
        """Whether a task of these controls runs."""
        return any(task.running for task in self._tasks)

    def start(self, task: Task, fn: Callable, *args: object, **kwargs: object) -> Worker:
        """Start ``task`` (``Task.start``'s arguments) and show it running."""
        worker = task.start(fn, *args, **kwargs)
        self._cancelling = False
        self.progress.setRange(0, 0)
        self.progress.setFormat(STARTING)
        self.progress.setToolTip("")
        self.refresh()
        if task in self._announcements:
            self.session.busy_changed.emit(True, self._announcements[task])
        return worker

    def show_progress(self, phase: str, fraction: float | None) -> None:
        if self._cancelling:
            return  # "cancelling…" stays until the run ends
        self.progress.setFormat(f"{phase} %p%" if fraction is not None else phase)
        self.progress.setToolTip(phase)
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(int(fraction * 100))

    def cancel(self) -> None:
        """Ask every running task to stop; each still reports ``on_cancelled`` and ends."""
        if not self.running:
            return
        self._cancelling = True
        self.progress.setRange(0, 0)
        self.progress.setFormat(CANCELLING)
        self.refresh()
        for task in self._tasks:
            task.cancel()

    def refresh(self) -> None:
        """Run and Cancel enabled as the running job and ``can_run`` say."""
        running = self.running
        self.run_button.setEnabled(not running and self.can_run())
        self.cancel_button.setEnabled(running and not self._cancelling)

    def _show_idle(self) -> None:
        self._cancelling = False
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setFormat(IDLE)
        self.progress.setToolTip("")
        self.refresh()

    def _ended(self, announced: bool, on_end: Callable | None) -> None:
        if not self.running:
            self._show_idle()
        else:
            self.refresh()
        if announced:
            self.session.busy_changed.emit(False, "")
        if on_end is not None:
            on_end()


def job_dialog_layout(dialog: QDialog, jobs: JobControls, status: QLabel, view: QWidget,
                      actions: Sequence[QPushButton]) -> None:
    """The layout the job dialogs share (split, reduce): the job row, a status line, the result view taking the
    height, and a row of the dialog's actions ending with Close."""
    close_button = QPushButton("Close")
    close_button.clicked.connect(dialog.close)
    buttons = QHBoxLayout()
    buttons.addStretch(1)
    for button in (*actions, close_button):
        buttons.addWidget(button)
    layout = QVBoxLayout(dialog)
    layout.addWidget(jobs)
    layout.addWidget(status)
    layout.addWidget(view, 1)
    layout.addLayout(buttons)


def ask_for_folder(dialog: QDialog, title: str, on_selected: Callable[[str], object]) -> QFileDialog:
    """The folder chooser of the job dialogs' write actions (split folder, reduce report): Qt's own dialog, opened
    asynchronously (the same on every desktop, and drivable in tests); ``on_selected`` gets the folder."""
    chooser = QFileDialog(dialog, title)
    chooser.setOption(QFileDialog.Option.DontUseNativeDialog)
    chooser.setFileMode(QFileDialog.FileMode.Directory)
    chooser.fileSelected.connect(on_selected)
    chooser.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    chooser.open()
    return chooser
