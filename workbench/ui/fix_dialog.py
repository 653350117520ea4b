"""The fix dialog: a parameter form for one fix, a preview of what it changes, apply, and parity.

Preview runs the transform in the background and keeps the result; Apply hands exactly that result
to the session's fix history (so what was previewed is what is applied) and then checks parity in
the background. Both show their phases in the job controls' bar, with Cancel.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import FixResult, apply_fix, make_step
from workbench.core.fixes.registry import get_fix, suggested_params
from workbench.core.fixes.base import Param
from workbench.core.model.loading import LoadedModel
from workbench.core.compare.parity import BEYOND, CANNOT_JUDGE, EXACT, NOT_CHECKABLE, ParityResult, check_parity
from workbench.core.problems import Problem
from workbench.ui import palette
from workbench.ui.session import Session
from workbench.ui.job_controls import JobControls
from workbench.ui.worker import Worker

VERDICT_COLOURS = {EXACT: palette.PASS, BEYOND: palette.FAIL, CANNOT_JUDGE: palette.CHANGED,
                   NOT_CHECKABLE: palette.CHANGED}


class FixDialog(QDialog):
    parity_checked = Signal(object, object)  # FixResult, ParityResult

    def __init__(self, session: Session, fix_name: str, problem: Problem | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.fix, self.problem = session, get_fix(fix_name), problem
        self.fix_result: FixResult | None = None
        self.parity: ParityResult | None = None
        self._applied: FixResult | None = None  # the result whose parity is being checked

        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.jobs = JobControls(session, "Preview", extra=(self.apply_button,))
        self.preview_button = self.jobs.run_button
        self.preview_task = self.jobs.add_task(self, "fixes", on_done=self._previewed, on_error=self._failed,
                                               on_cancelled=self._preview_cancelled, errors_in_place=True)
        self.parity_task = self.jobs.add_task(self, "fixes", on_done=self._parity_done, on_error=self._failed,
                                              on_cancelled=self._parity_cancelled, errors_in_place=True)
        self.setWindowTitle(f"{self.fix.title} — {self.fix.name}")
        self.resize(640, 520)

        numerics = ("\n\nThis fix can change the model's outputs numerically; the parity check after applying "
                    "measures by how much.") if self.fix.may_change_numerics else ""
        description = QLabel(self.fix.description + numerics + (f"\n\nFor: {problem.message}" if problem else ""))
        description.setWordWrap(True)
        self.form = QFormLayout()
        self.fields: dict[str, QLineEdit | QComboBox | QCheckBox] = {}
        prefill = suggested_params(fix_name, session.model, problem) if session.model else {}
        for param in self.fix.params:
            field = self._field(param, prefill.get(param.name))
            field.setToolTip(param.help)
            self.fields[param.name] = field
            self.form.addRow(param.name + ("" if param.required else " (optional)"), field)
        if not self.fix.params:
            self.form.addRow(QLabel("This fix takes no parameters."))
        self.error_label = QLabel()
        self.error_label.setStyleSheet(f"color: {palette.ERROR}")
        self.error_label.setWordWrap(True)
        self.preview_text = QPlainTextEdit(readOnly=True)
        self.preview_text.setPlaceholderText("Preview shows the nodes this fix removes, adds and changes.")
        self.parity_label = QLabel()
        self.parity_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.preview_button.clicked.connect(self.preview)
        self.apply_button.clicked.connect(self.apply)

        layout = QVBoxLayout(self)
        layout.addWidget(description)
        layout.addLayout(self.form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.preview_text, 1)
        layout.addWidget(self.parity_label)
        layout.addWidget(self.jobs)
        layout.addWidget(buttons)
        session.model_changed.connect(self._on_model_changed)

    def _field(self, param: Param, value: str | None) -> QCheckBox | QComboBox | QLineEdit:
        if param.kind == "bool":
            box = QCheckBox()
            box.setChecked(bool(param.default) if value is None else value.lower() == "true")
            box.toggled.connect(self._invalidate)
            return box
        if param.kind in ("choice", "input"):
            combo = QComboBox()
            options = list(param.choices) if param.kind == "choice" else \
                [t.name for t in self.session.model.summary().inputs] if self.session.model else []
            if not param.required and param.default is None:
                options.insert(0, "")
            combo.addItems(options)
            combo.setEditable(param.kind == "input")
            combo.setCurrentText(value if value is not None else str(param.default or ""))
            combo.currentTextChanged.connect(self._invalidate)
            return combo
        line = QLineEdit(value or "")
        line.setPlaceholderText(param.help)
        line.textChanged.connect(self._invalidate)
        return line

    def values(self) -> dict[str, object]:
        values: dict[str, object] = {}
        for name, field in self.fields.items():
            if isinstance(field, QCheckBox):
                values[name] = field.isChecked()
            else:
                text = field.currentText() if isinstance(field, QComboBox) else field.text()
                if text.strip():
                    values[name] = text.strip()
        return values

    def _invalidate(self, *_args: object) -> None:
        self.fix_result = None
        self.apply_button.setEnabled(False)

    def _on_model_changed(self, _model: LoadedModel) -> None:
        if self.fix_result is not None and self.fix_result.after is not self.session.model:
            self._invalidate()
            self.preview_text.setPlainText("The model changed; preview again.")

    def _preview_cancelled(self) -> None:
        self.parity_label.setText("Preview cancelled: nothing was applied.")

    def _parity_cancelled(self) -> None:
        self.parity_label.setText("The fix is applied; its parity check was cancelled (undo in the History panel).")

    def _failed(self, error: WorkbenchError) -> None:
        self.error_label.setText(error.message + (f"\n{error.hint}" if error.hint else ""))
        self.parity_label.clear()
        if error.detail:  # e.g. the checker's full text for a fix whose result is invalid
            self.preview_text.setPlainText(f"Detail:\n{error.detail}")
        self.session.log("error", error.message)

    def preview(self) -> Worker | None:
        self.error_label.clear()
        self._invalidate()
        try:
            step = make_step(self.fix.name, self.values())
        except WorkbenchError as exc:
            self._failed(exc)
            self.session.report_error(exc, "fixes", shown_in_place=True)
            return None
        self.session.log("info", f"Previewing {step.spec()}")
        return self.jobs.start(self.preview_task, apply_fix, self.session.model, step)

    def _previewed(self, result: FixResult) -> None:
        if result.before is not self.session.model:
            return  # the model changed while the preview ran
        self.fix_result = result
        self.preview_text.setPlainText(result.describe())
        self.parity_label.setText("Preview ready: Apply replaces the model (undo in the History panel).")
        self.apply_button.setEnabled(True)

    def apply(self) -> Worker | None:
        if self.fix_result is None:
            return None
        result = self.fix_result
        self._invalidate()
        self.session.apply_fix(result)
        self.session.log("info", f"Applied {result.step.spec()}: {result.preview.summary()}")
        self.session.log("info", "Checking parity with onnxruntime")
        self._applied = result
        self.parity_label.setText("Applied; checking parity with onnxruntime…")
        return self.jobs.start(self.parity_task, check_parity, result.before, result.after,
                               frozen_inputs=result.frozen_inputs)

    def _parity_done(self, parity: ParityResult) -> None:
        result = self._applied
        assert result is not None, "apply() keeps the result whose parity it checks"
        self.parity = parity
        colour = VERDICT_COLOURS.get(parity.verdict, palette.NOTE)
        self.parity_label.setText(f"<b style='color:{colour}'>Parity: {parity.text}</b>")
        self.session.log("warning" if parity.verdict in (BEYOND, CANNOT_JUDGE) else "info",
                         f"Parity after {result.step.spec()}: {parity.text}")
        self.parity_checked.emit(result, parity)
