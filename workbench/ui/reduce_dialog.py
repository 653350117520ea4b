"""The reduce dialog ("Reduce…" on a problem in the triage list): the smallest model that still fails that way.

``reduce_model`` runs in a worker with progress and Cancel (its time limit, the default, ends it with the smallest
failing model so far). The result says how far it got, the failure's signature, the nodes left, the
inputs with their shapes and reasons, and the checks it took. The report is written at once to a temporary
folder (said in the status line) so *Open reduced model* can open it as a model of its own; *Write report…*
writes the same bundle (repro.sh, environment.txt, README.md …) where the user chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QPushButton, QTextBrowser, QWidget

from workbench.core.backend import Backend
from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.reduce.oracle import COMPARE_KIND
from workbench.core.reduce.bundle import REDUCED, prepare_bundle_folder, write_bundle
from workbench.core.reduce.search import ProblemSpec, ReduceResult, ReduceStatus, reduce_model
from workbench.core.runtime import current_runtime
from workbench.core.shapes.profiles import Profile, describe_profile, profiles_from_recipe
from workbench.ui import palette
from workbench.ui.session import Session
from workbench.ui.job_controls import JobControls, ask_for_folder, job_dialog_layout
from workbench.ui.worker import Worker

_STATUS_COLOURS = {ReduceStatus.REDUCED: palette.PASS, ReduceStatus.STOPPED_EARLY: palette.WARNING,
                   ReduceStatus.NOT_REDUCIBLE: palette.FAIL, ReduceStatus.FLAKY: palette.FAIL}


@dataclass(frozen=True)
class ComparisonToReduce:
    """A failed model-vs-model comparison ("Reduce…" in the Compare panel): the reference is cut down to the
    nodes where the model under test departs from it, both fed the reference's own values at the cuts."""

    reference: LoadedModel
    test: LoadedModel
    tolerances: Tolerances


@dataclass(frozen=True)
class ReducedReport:
    """A reduction and where its report was written (``bundle`` None, ``write_error`` said, when it could not be)."""

    result: ReduceResult
    bundle: Path | None
    write_error: str = ""


def write_report(result: ReduceResult, folder: Path, backend: Backend, protect: Path | None, *,
                 progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> list[Path]:
    """The report's files, written off the GUI thread (a comparison's inputs and outputs can be large)."""
    try:
        return write_bundle(result, folder, backend, protect=protect)
    except OSError as exc:
        raise WorkbenchError(f"Could not write the report to {folder}: {exc}", "Choose a folder you can write to.",
                             str(exc)) from exc


def reduce_and_write(model: LoadedModel, spec: ProblemSpec | None, folder: Path, protect: Path | None, *,
                     backend: Backend, profiles: list[Profile] | None = None, against: LoadedModel | None = None,
                     tolerances: Tolerances | None = None, progress: ProgressFn = no_progress,
                     cancel: CancelToken | None = None) -> ReducedReport:
    """The reduction, then its report in ``folder``; a report that cannot be written keeps the reduction."""
    result = reduce_model(model, spec, against=against, tolerances=tolerances, profiles=profiles, backend=backend,
                          progress=progress, cancel=cancel)
    try:
        write_report(result, prepare_bundle_folder(folder, None), backend, protect)
    except WorkbenchError as exc:
        return ReducedReport(result, None, exc.message)
    return ReducedReport(result, folder)


def reduce_html(result: ReduceResult) -> str:
    colour = _STATUS_COLOURS[result.status]
    rows = [f"<p><b style='color:{colour}'>{escape(str(result.status))}</b>: "
            f"{result.original_nodes} → {len(result.reduced_nodes)} nodes, {result.oracle_calls} checks in "
            f"{result.seconds:.1f} s (limit {result.time_limit:.0f} s)</p>",
            f"<p><b>Failure</b><br><code>{escape(result.target.signature.text())}</code></p>",
            "<p><b>Nodes kept</b><br>" + "<br>".join(f"{escape(op)} <i>{escape(name)}</i>" for name, op in
                                                     zip(result.reduced_nodes, result.reduced_ops)) + "</p>",
            "<p><b>Inputs</b><br>" + "<br>".join(
                f"{escape(i['name'])}: {i['dtype']} {escape(str(i['shape']))}"
                + (f" — {escape(i['reason'])}" if i["reason"] else "") for i in result.inputs) + "</p>"]
    if result.profiles:
        rows.append("<p><b>Profile</b><br>" + "<br>".join(escape(describe_profile(p)) for p in result.profiles)
                    + "</p>")
    rows.append("<p><b>Search</b><br>" + "<br>".join(escape(step) for step in result.steps) + "</p>")
    if result.neighbour_nodes:
        rows.append(f"<p>Passing neighbour: {len(result.neighbour_nodes)} nodes (does not fail).</p>")
    return "".join(rows)


class ReduceDialog(QDialog):
    def __init__(self, session: Session, problem: Problem | ComparisonToReduce | None,
                 open_model: Callable[[Path], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.problem = problem
        self.open_model = open_model  # the window's open_path: the reduced model becomes a model of its own
        if isinstance(problem, ComparisonToReduce):
            title = f"Reduce: {problem.reference.name} vs {problem.test.name} (comparison)"
        elif problem is not None:
            title = f"Reduce: {problem.kind}" + (f" on {problem.node}" if problem.node else "")
        else:
            title = "Reduce"
        self.setWindowTitle(title)
        self.resize(820, 560)
        self.jobs = JobControls(session)  # no Run: the dialog reduces when it opens
        self.cancel_button = self.jobs.cancel_button
        self.task = self.jobs.add_task(self, "reduce", on_done=self._show_result, on_error=self._failed,
                                       on_cancelled=self._cancelled, on_end=self._update_buttons,
                                       errors_in_place=True)
        self.write_task = self.jobs.add_task(self, "reduce", on_done=self._written, on_error=self._write_failed,
                                             on_end=self._update_buttons, errors_in_place=True)
        self.reduce_result: ReduceResult | None = None
        self.bundle: Path | None = None
        self.file_dialog: QFileDialog | None = None
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = QTextBrowser()
        self.open_button = QPushButton("Open reduced model")
        self.write_button = QPushButton("Write report…")
        job_dialog_layout(self, self.jobs, self.status, self.view, [self.open_button, self.write_button])
        self.open_button.clicked.connect(self.open_reduced)
        self.write_button.clicked.connect(self.write_dialog)
        self._update_buttons()

    def reduce(self) -> Worker | None:
        if self.session.model is None or self.task.running:
            return None
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles) or None
        except WorkbenchError as exc:
            self.status.setText(f"{exc.message} {exc.hint}")
            return None
        self.reduce_result = None
        self.view.clear()
        spec: ProblemSpec | None
        if isinstance(self.problem, ComparisonToReduce):
            model, spec = self.problem.reference, ProblemSpec.parse(COMPARE_KIND)
            against: dict = {"against": self.problem.test, "tolerances": self.problem.tolerances}
        else:
            model, spec = self.session.model, ProblemSpec.from_problem(self.problem) if self.problem else None
            against = {}
        self.status.setText(f"Reducing {model.name}…")
        # The report's folder is kept while the window lives (its reduced model can be opened from there); "Write
        # report…" keeps a copy where the user chooses.
        folder = current_runtime().scratch_folder("trt-workbench-reduce-")
        worker = self.jobs.start(self.task, reduce_and_write, model, spec, folder, self._model_path(),
                                 profiles=profiles, backend=self.session.backend, **against)
        self._update_buttons()
        return worker

    def cancel(self) -> None:
        self.jobs.cancel()

    def _failed(self, error: WorkbenchError) -> None:
        self.status.setText(f"Could not reduce: {error.message} {error.hint}")

    def _cancelled(self) -> None:
        self.status.setText("Reduction cancelled: nothing was written.")

    def _show_result(self, report: ReducedReport) -> None:
        result = self.reduce_result = report.result
        self.bundle = report.bundle
        self.view.setHtml(reduce_html(result))
        if report.bundle is None:
            self.status.setText(f"{result.message} The report could not be written: {report.write_error}")
        else:
            self.status.setText(f"{result.message} Report in {report.bundle}")
        self.session.log("info", f"Reduce: {result.message}")

    def open_reduced(self) -> None:
        if self.bundle is not None:
            self.open_model(self.bundle / REDUCED)

    def _update_buttons(self) -> None:
        busy = self.jobs.running
        self.open_button.setEnabled(not busy and self.bundle is not None)
        self.write_button.setEnabled(not busy and self.reduce_result is not None)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.task.abandon()
        super().closeEvent(event)

    def write_dialog(self) -> QFileDialog:
        self.file_dialog = ask_for_folder(self, "Folder for the report", self.write_to)
        return self.file_dialog

    def _model_path(self) -> Path | None:
        """The current model's file: the report never writes over it."""
        return self.session.model.path if self.session.model is not None else None

    def write_to(self, folder: str | Path) -> Worker | None:
        result = self.reduce_result
        if result is None or self.jobs.running:  # nothing reduced yet, or busy (the Write button is disabled then)
            return None
        try:
            target = prepare_bundle_folder(folder, self._model_path())
        except WorkbenchError as exc:
            self._write_failed(exc)
            return None
        self.status.setText(f"Writing the report to {target}…")
        worker = self.jobs.start(self.write_task, write_report, result, target, self.session.backend,
                                 self._model_path())
        self._update_buttons()
        return worker

    def _written(self, written: list[Path]) -> None:
        folder = written[0].parent
        self.status.setText(f"Wrote {len(written)} files to {folder}; bash {folder / 'repro.sh'} reproduces "
                            "the failure.")
        self.session.log("info", f"Wrote the reduce report to {folder}")

    def _write_failed(self, error: WorkbenchError) -> None:
        self.status.setText(f"Could not write the report: {error.message}")
