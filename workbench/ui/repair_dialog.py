"""The repair dialog: search for fixes (and/or a profile) that make the model build, then apply or save them.

The search runs in the background with progress and Cancel. The result lists each step, why it was
needed and its parity. "Apply" hands the whole sequence to the session's fix history as one
undoable step (``session.apply_repair``); steps that change the model's meaning need the
confirmation box ticked first. ``RepairMenu`` adds the window's Repair menu, with the switch for
the trial build after each analysis (the window's ``TrialBuildRunner``).
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QCheckBox, QDialog, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMenu, QPushButton,
                               QTextBrowser, QVBoxLayout, QWidget)

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem
from workbench.core.recipe import save_recipe
from workbench.core.repair import SPLIT_OFFERED, RepairResult, parse_input_values, repair_model
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.ui import palette
from workbench.ui.fix_dialog import VERDICT_COLOURS
from workbench.ui.session import Session
from workbench.ui.job_controls import JobControls
from workbench.ui.trial_build_runner import TrialBuildRunner
from workbench.ui.worker import Worker

if TYPE_CHECKING:
    from workbench.ui.main_window import MainWindow  # which imports this module
    from workbench.ui.reduce_dialog import ComparisonToReduce, ReduceDialog  # imported when first opened
    from workbench.ui.split_dialog import SplitDialog  # imported when first opened

_MEANING_COLOUR = palette.ERROR


def _steps_html(result: RepairResult) -> str:
    """Each step with its reason, parity (coloured by verdict) and, in red, how it changes meaning."""
    rows = []
    for index, step in enumerate(result.steps, 1):
        parity = (f"<span style='color:{VERDICT_COLOURS.get(step.parity.verdict, palette.NOTE)}'>"
                  f"{escape(step.parity.text)}</span>") if step.parity else "no graph change"
        meaning = (f"<br><span style='color:{_MEANING_COLOUR}'>Changes meaning: {escape(step.confirm)}</span>"
                   if step.confirm else "")
        rows.append(f"<p><b>{index}. {escape(step.title)}</b><br>Why: {escape(step.reason)}<br>Parity: {parity}"
                    f"{meaning}</p>")
    if result.tried:
        rows.append("<p style='color:#555'>Tried: " + "<br>".join(escape(t) for t in result.tried) + "</p>")
    return "".join(rows)


class RepairDialog(QDialog):
    def __init__(self, session: Session, parent: QWidget | None = None,
                 open_split: Callable[[], object] | None = None) -> None:
        """``open_split``: opens the split dialog, offered when no repair makes the whole model build."""
        super().__init__(parent)
        self.session = session
        self.setWindowTitle("Find a repair")
        self.resize(900, 460)
        self.repair_result: RepairResult | None = None
        self.file_dialog: QFileDialog | None = None

        self.values = QLineEdit(placeholderText="Values for switch inputs, e.g. downsample_ratio=0.25 (optional)")
        self.jobs = JobControls(session, "Search", can_run=lambda: self.session.model is not None)
        self.search_button, self.cancel_button = self.jobs.run_button, self.jobs.cancel_button
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.steps = QTextBrowser()
        self.confirm = QCheckBox("I accept the steps marked in red: they change what the model computes or accepts.")
        self.apply_button = QPushButton("Apply")
        self.save_button = QPushButton("Save as recipe…")
        self.split_button = QPushButton("Split for TensorRT…")
        close_button = QPushButton("Close")

        buttons = QHBoxLayout()
        buttons.addWidget(self.confirm, 1)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.split_button)
        buttons.addWidget(close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.values)
        layout.addWidget(self.jobs)
        layout.addWidget(self.status)
        layout.addWidget(self.steps, 1)
        layout.addLayout(buttons)

        self.search_button.clicked.connect(self.search)
        self.confirm.toggled.connect(lambda _on: self._update_buttons())
        self.apply_button.clicked.connect(self.apply)
        self.save_button.clicked.connect(self.save_dialog)
        if open_split is not None:
            self.split_button.clicked.connect(open_split)
        close_button.clicked.connect(self.close)
        self.search_task = self.jobs.add_task(self, "repair", on_done=self._show_result, on_error=self._failed,
                                              on_cancelled=self._cancelled, on_end=self._update_buttons,
                                              errors_in_place=True)
        self._show_result(None)

    # Searching ---------------------------------------------------------------------------------------
    def search(self) -> Worker | None:
        if self.session.model is None or self.search_task.running:
            return None
        try:
            values = parse_input_values([part.strip() for part in self.values.text().split(",") if part.strip()])
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError as exc:
            self.status.setText(f"<span style='color:{_MEANING_COLOUR}'>{exc.message}</span> {exc.hint}")
            self.session.report_error(exc, "repair", shown_in_place=True)
            return None
        self._show_result(None)
        self.status.setText(f"Searching for a repair of {self.session.model.name}…")
        worker = self.jobs.start(self.search_task, repair_model, self.session.model, input_values=values,
                                 profiles=profiles, backend=self.session.backend)
        self._update_buttons()
        return worker

    def cancel(self) -> None:
        self.jobs.cancel()

    def _failed(self, error: WorkbenchError) -> None:
        self.status.setText(f"The search failed: {error.message} {error.hint}")

    def _cancelled(self) -> None:
        self.status.setText("Search cancelled: nothing was changed.")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel()
        super().closeEvent(event)

    # The result --------------------------------------------------------------------------------------
    def _show_result(self, result: RepairResult | None) -> None:
        self.repair_result = result
        self.confirm.setChecked(False)
        self.steps.setHtml(_steps_html(result) if result is not None else "")
        if result is not None:
            self.status.setText(result.message)
        self.confirm.setVisible(bool(result and result.needs_confirmation))
        self.split_button.setVisible(result is not None and result.status == SPLIT_OFFERED)
        self._update_buttons()

    def _update_buttons(self) -> None:
        searching = self.search_task.running
        result = self.repair_result
        found = result is not None and result.found
        confirmed = result is not None and (not result.needs_confirmation or self.confirm.isChecked())
        self.jobs.refresh()
        self.apply_button.setEnabled(found and not searching and confirmed)
        self.save_button.setEnabled(found and not searching)

    def apply(self) -> bool:
        result = self.repair_result
        if result is None or not self.apply_button.isEnabled():
            return False
        if self.session.model is not result.original:
            self.status.setText("The model changed since the search; search again before applying.")
            return False
        self.session.apply_repair(result)
        self.session.log("info", f"Applied the repair: {result.message}")
        self.status.setText("Applied. Undo it from the History panel or with Undo.")
        self.repair_result = None
        self._update_buttons()
        return True

    def save_dialog(self) -> QFileDialog:
        dialog = QFileDialog(self, "Save repair as recipe", "", "Recipes (*.toml);;All files (*)")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("toml")
        dialog.fileSelected.connect(self.save_recipe_to)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.file_dialog = dialog
        return dialog

    def save_recipe_to(self, path: str) -> None:
        if self.repair_result is None:  # nothing found (the Save button is disabled then)
            return
        try:
            written = save_recipe(self.repair_result.recipe(), path)
        except (WorkbenchError, OSError) as exc:
            error = exc if isinstance(exc, WorkbenchError) else WorkbenchError(
                f"{exc.strerror}.", "Check the folder exists and is writable.", str(exc))
            self.status.setText(f"Could not save the recipe: {error.message}")
            self.session.report_error(error, "repair", shown_in_place=True)
        else:
            self.status.setText(f"Saved the repair as {written}")
            self.session.log("info", f"Saved the repair recipe to {written}")


class RepairMenu(QObject):
    """The window's Repair menu (placed before Help), with the switch for the trial build after each analysis."""

    def __init__(self, window: MainWindow, trial_build: TrialBuildRunner) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.dialog: RepairDialog | None = None
        bar = window.menuBar()
        menu = QMenu("&Repair", bar)
        bar.insertMenu(bar.actions()[-1], menu)
        self.find_action = menu.addAction("&Find a repair…", self.open_dialog)
        self.find_action.setEnabled(self.session.model is not None)
        self.split_action = menu.addAction("&Split for TensorRT…", self.open_split_dialog)
        self.split_action.setEnabled(self.session.model is not None)
        self.split_dialog: SplitDialog | None = None
        self.session.model_changed.connect(self._model_changed)
        self.session.split_requested.connect(self.open_split_dialog)
        self.reduce_dialog: ReduceDialog | None = None
        self.session.reduce_requested.connect(self.open_reduce_dialog)
        self.trial_action = menu.addAction("&Trial build after analysis")
        self.trial_action.setCheckable(True)
        self.trial_action.setChecked(trial_build.enabled)
        self.trial_action.toggled.connect(trial_build.set_enabled)

    def _model_changed(self, _model: LoadedModel) -> None:
        self.find_action.setEnabled(True)
        self.split_action.setEnabled(True)

    def open_split_dialog(self) -> SplitDialog:
        """The split dialog (TensorRT engine + onnxruntime for the rest), splitting at once."""
        from workbench.ui.split_dialog import SplitDialog

        if self.split_dialog is not None:
            self.split_dialog.close()
        dialog = self.split_dialog = SplitDialog(self.session, self.window)
        dialog.show()
        dialog.split()
        return dialog

    def open_reduce_dialog(self, problem: Problem | ComparisonToReduce | None) -> ReduceDialog:
        """The reduce dialog for ``problem`` (a Problem, a failed comparison, or None for the model's first
        failure), reducing at once."""
        from workbench.ui.reduce_dialog import ReduceDialog

        if self.reduce_dialog is not None:
            self.reduce_dialog.close()
        dialog = self.reduce_dialog = ReduceDialog(self.session, problem, self.window.open_path, self.window)
        dialog.show()
        dialog.reduce()
        return dialog

    def open_dialog(self) -> RepairDialog:
        """Open the dialog and start searching at once."""
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = RepairDialog(self.session, self.window, open_split=self.open_split_dialog)
        self.dialog.show()
        self.dialog.search()
        return self.dialog
