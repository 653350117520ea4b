"""The Precision panel: convert to FP16/BF16 or quantize to INT8/FP8 Q/DQ, with the nodes kept float under control.

A thin view over ``workbench.core.precision_plan``: the form edits a ``PrecisionPlan`` (mode, the keep
set — kept in FP32 when converting, left unquantized when quantizing —, tolerances, calibration).
*Convert/Quantize & check* runs ``evaluate`` in the background (the recipe step applied to a copy, and
its accuracy per output against the FP32 model); *Apply to model* hands exactly that result to the
session as an undoable history step, which also puts it in the recipe. *Find nodes to keep* runs the
precision bisect with progress and Cancel; the nodes it keeps join the keep set and are marked on the
triage list (an info problem each). *Keep selected* takes the node last selected in the triage list or
clicked in the graph.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFormLayout, QHeaderView,
                               QLabel, QLineEdit, QListWidget, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.build.engine import BuildSettings
from workbench.core.build.precision_label import precision_label
from workbench.core.compare.inputs import InputSpec
from workbench.core.compare.metrics import Tolerances, Verdict
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.bisect import BisectOutcome
from workbench.core.precision.conversion import BF16_EMULATION, AccuracyCheck, KeepSet
from workbench.core.precision.converter import DEFAULT_KEEP_RULES
from workbench.core.precision_plan import (CONVERSION_MODES, PrecisionPlan, PrecisionResult, default_tolerances,
                                           evaluate, find_keep_set)
from workbench.core.precision.quantize import DEFAULT_CALIBRATION_SAMPLES, modelopt_available
from workbench.core.problems import Problem, ProblemKind, Severity, Stage
from workbench.core.session import ResultKind
from workbench.ui import palette
from workbench.ui.compare_form import widget_row
from workbench.ui.compare_results import VERDICT_COLOURS
from workbench.ui.qt_items import disable_choice
from workbench.ui.session import Session
from workbench.ui.tables import keep_rows_in_view
from workbench.ui.job_controls import JobControls
from workbench.ui.worker import Worker

AS_EXPORTED = "fp32"
MODES = ((AS_EXPORTED, "FP32 (as exported)"), ("fp16", "FP16"), ("bf16", "BF16"), ("int8", "INT8 Q/DQ"),
         ("fp8", "FP8 Q/DQ"))
MODE_NOTES = {
    AS_EXPORTED: "The model as exported: nothing to convert. Choose a reduced precision to convert or quantize it.",
    "fp16": "FP16 conversion. Accuracy under onnxruntime, and every tensor stored in float16 is checked for overflow.",
    "bf16": f"BF16 conversion (a true bfloat16 model for TensorRT). Accuracy: {BF16_EMULATION} (onnxruntime's CPU "
            "provider has no bfloat16 kernels).",
    "int8": "INT8 Q/DQ, built in (onnxruntime's quantize_static with float biases, which TensorRT-RTX parses).",
    "fp8": "FP8 Q/DQ with NVIDIA Model Optimizer.",
}
FP8_UNAVAILABLE = "needs NVIDIA Model Optimizer: pip install 'nvidia-modelopt[onnx]' (it needs torch)"
CALIBRATION_SOURCES = ("Random samples at realistic shapes", "The Compare panel's data file (.npz)")
IMAGES_LEFT_OUT = ("Images (the Compare panel's image source) are not offered: a recipe step cannot carry their "
                   "preprocessing yet, so the quantization could not be replayed.")
RESULT_COLUMNS = ("output", "max |err|", "max rel", "cosine", "verdict", "reason")
PROBLEM_SOURCE = "precision"  # the session's problem source for the bisect's marks on the triage list
MAX_SAMPLES = 1024
DEFAULT_KEEP_RULES_TEXT = "Kept in FP32 unless unticked:\n" + "\n".join(
    f"{op}: {reason}" for op, reason in DEFAULT_KEEP_RULES.items())


class PrecisionPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: PrecisionResult | None = None
        self.bisect_outcome: BisectOutcome | None = None
        self._bisect_plan: PrecisionPlan | None = None
        self.selected_node = ""  # last selected in the triage list or clicked in the graph
        self._build()
        self.check_task = self.jobs.add_task(self, "precision", on_done=self.show_result, on_error=self._show_error,
                                             on_cancelled=self._cancelled, on_end=self._update_enabled,
                                             errors_in_place=True)
        self.bisect_task = self.jobs.add_task(self, "precision", on_done=self.show_bisect, on_error=self._show_error,
                                              on_cancelled=self._cancelled, on_end=self._update_enabled,
                                              errors_in_place=True)
        session.model_changed.connect(self._on_model_changed)
        session.node_selected.connect(self._on_node_selected)
        session.node_picked.connect(self._on_node_selected)
        self._on_mode_changed()
        self._on_model_changed(session.model)

    # Layout ---------------------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.mode = QComboBox()
        for key, title in MODES:
            self.mode.addItem(title, key)
        if not modelopt_available():
            fp8 = self.mode.findData("fp8")
            self.mode.setItemText(fp8, f"{MODES[-1][1]} (unavailable)")
            disable_choice(self.mode, fp8, f"FP8 Q/DQ {FP8_UNAVAILABLE}")
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.current_precision = QLabel("")
        form.addRow("Mode", widget_row(self.mode, self.current_precision))
        self.mode_note = QLabel("")
        self.mode_note.setWordWrap(True)
        form.addRow("", self.mode_note)

        self.keep_list = QListWidget()
        self.keep_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.keep_list.setMaximumHeight(66)  # three entries; more scroll (the results below need the room)
        self.keep_entry = QLineEdit(placeholderText="node name or op type, e.g. /ReduceSum or Softmax")
        self.keep_entry.returnPressed.connect(self.add_entry)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_entry)
        self.keep_selected_button = QPushButton("Keep selected")
        self.keep_selected_button.setToolTip("The node selected in the triage list or clicked in the graph")
        self.keep_selected_button.clicked.connect(self.keep_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.keep_label = QLabel("Keep in FP32")
        keep_box = QWidget()
        keep_layout = QVBoxLayout(keep_box)
        keep_layout.setContentsMargins(0, 0, 0, 0)
        keep_layout.addWidget(self.keep_list)
        keep_layout.addWidget(widget_row(self.keep_entry, self.add_button, self.keep_selected_button,
                                         self.remove_button))
        form.addRow(self.keep_label, keep_box)

        self.atol, self.rtol = QLineEdit(), QLineEdit()
        self.tolerance_reason = QLabel("")
        self.tolerance_reason.setWordWrap(True)
        form.addRow("Tolerance", widget_row(QLabel("atol"), self.atol, QLabel("rtol"), self.rtol))
        form.addRow("", self.tolerance_reason)
        self.keep_io = QCheckBox("Keep graph inputs and outputs float32")
        self.keep_io.setChecked(True)
        form.addRow("Graph I/O", self.keep_io)
        self.default_keep = QCheckBox("Keep numerically fragile ops in FP32 (default keep rules)")
        self.default_keep.setChecked(True)
        self.default_keep.setToolTip(DEFAULT_KEEP_RULES_TEXT)
        form.addRow("Default rules", self.default_keep)
        self.calibration = QComboBox()
        self.calibration.addItems(CALIBRATION_SOURCES)
        self.calibration.setToolTip(IMAGES_LEFT_OUT)
        self.samples = QSpinBox()
        self.samples.setRange(1, MAX_SAMPLES)
        self.samples.setValue(DEFAULT_CALIBRATION_SAMPLES)
        self.samples.setSuffix(" samples")
        self.calibration.currentIndexChanged.connect(
            lambda index: self.samples.setEnabled(index == 0))
        self.calibration_row = widget_row(self.calibration, self.samples)
        form.addRow("Calibration", self.calibration_row)
        self.form = form

        self.bisect_button = QPushButton("Find nodes to keep (bisect)")
        self.bisect_button.clicked.connect(self.run_bisect)
        self.apply_button = QPushButton("Apply to model")
        self.apply_button.setToolTip("An undoable step in the History panel and the recipe")
        self.apply_button.clicked.connect(self.apply)
        self.jobs = JobControls(self.session, "Convert && check", extra=(self.bisect_button, self.apply_button),
                                bar_below=True, can_run=lambda: self.session.model is not None
                                and self.mode_key != AS_EXPORTED)
        self.run_button, self.cancel_button, self.progress = (self.jobs.run_button, self.jobs.cancel_button,
                                                              self.jobs.progress)
        self.run_button.clicked.connect(self.run_check)

        self.status = QLabel("No check yet.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(RESULT_COLUMNS))
        self.table.setHorizontalHeaderLabels(RESULT_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        # One line per output (the reason is its tooltip too): compact rows leave the form above its room.
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        keep_rows_in_view(self.table, prefer_minimum=True)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()  # until there are details: an empty line would take the results' room

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.jobs)
        layout.addWidget(self.status)
        layout.addWidget(self.details)
        layout.addWidget(self.table, 1)

    # The plan -------------------------------------------------------------------------------------------
    @property
    def mode_key(self) -> str:
        return self.mode.currentData()

    def keep_items(self) -> list[str]:
        return [self.keep_list.item(row).text() for row in range(self.keep_list.count())]

    def set_keep_items(self, items: list[str]) -> None:
        self.keep_list.clear()
        self.keep_list.addItems(list(dict.fromkeys(items)))

    def _tolerance(self, field: QLineEdit, what: str) -> float:
        try:
            return float(field.text())
        except ValueError:
            raise WorkbenchError(f"Cannot read {what} '{field.text()}'.", "Enter a number, e.g. 0.01.") from None

    def plan(self) -> PrecisionPlan:
        """The form as a plan; unreadable fields are a ``WorkbenchError``."""
        if self.mode_key == AS_EXPORTED:
            raise WorkbenchError("The mode is FP32 (as exported): there is nothing to convert.",
                                 "Choose FP16, BF16 or INT8 Q/DQ.")
        calib_file = ""
        if self.mode_key not in CONVERSION_MODES and self.calibration.currentIndex() == 1:
            files = [f for f in InputSpec.from_dict(self.session.recipe.inputs).data_files if f.endswith(".npz")]
            if not files:
                raise WorkbenchError("The Compare panel's inputs (the recipe's [inputs]) hold no .npz data file.",
                                     "Choose one there (Inputs: Data file) and run a comparison, which keeps it in "
                                     "the recipe; or calibrate on random samples.")
            calib_file = files[0]
        return PrecisionPlan(self.mode_key, self.keep_items(), self._tolerance(self.atol, "atol"),
                             self._tolerance(self.rtol, "rtol"), self.keep_io.isChecked(), self.samples.value(),
                             calib_file, default_keep=self.default_keep.isChecked())

    # Keep set editing -----------------------------------------------------------------------------------
    def add_entry(self) -> None:
        text = self.keep_entry.text().strip()
        if not text or self.session.model is None:
            return
        try:
            KeepSet.resolve(self.session.model, [text])
        except WorkbenchError as exc:
            self._show_error(exc)
            return
        self.set_keep_items([*self.keep_items(), text])
        self.keep_entry.clear()

    def keep_selected(self) -> None:
        if self.selected_node:
            self.set_keep_items([*self.keep_items(), self.selected_node])

    def remove_selected(self) -> None:
        for item in self.keep_list.selectedItems():
            self.keep_list.takeItem(self.keep_list.row(item))

    def _on_node_selected(self, name: str) -> None:
        model = self.session.model
        if model is None or name not in {node.name for node in model.proto.graph.node}:
            return  # e.g. a node inside an If body: conversion keeps top-level nodes
        self.selected_node = name
        self.keep_selected_button.setText(f"Keep selected ({name})")
        self.keep_selected_button.setEnabled(True)

    # Running ----------------------------------------------------------------------------------------------
    def run_check(self) -> Worker | None:
        try:
            plan = self.plan()
        except WorkbenchError as exc:
            self._show_error(exc)
            return None
        return self.jobs.start(self.check_task, evaluate, self.session.model, plan)

    def run_bisect(self) -> Worker | None:
        try:
            plan = self.plan()
        except WorkbenchError as exc:
            self._show_error(exc)
            return None
        self._bisect_plan = plan
        return self.jobs.start(self.bisect_task, find_keep_set, self.session.model, plan)

    def cancel(self) -> None:
        self.jobs.cancel()

    def apply(self) -> None:
        if self.result is None or self.result.fix.before is not self.session.model:
            return
        applied = self.result.fix
        self.session.apply_fix(applied)  # the model changes: _on_model_changed resets the result
        self.status.setText(f"Applied {applied.step.spec()} as a history step (undo in the History panel).")

    # Results ----------------------------------------------------------------------------------------------
    def show_result(self, result: PrecisionResult) -> None:
        self.session.keep(ResultKind.PRECISION_CHECK, result, result.fix.before)
        self.result = result
        self._show_check(result.check, result.tolerances, result.tolerance_reason)
        plan = result.plan
        kept = ", ".join(plan.keep) or "nothing"
        label = precision_label(result.fix.after, BuildSettings(), self.session.backend)
        self.details.show()
        self.details.setText(
            f"Step: {result.fix.step.spec()}<br>Result's precision: <b>{label}</b>; "
            f"{'kept in FP32' if plan.mode in CONVERSION_MODES else 'left unquantized'}: {kept}<br>"
            f"Inputs: {result.inputs} ({result.inputs_reason})"
            + "".join(f"<br>{warning}" for warning in result.fix.warnings if not warning.startswith("onnx-graph")))
        self._update_enabled()

    def show_bisect(self, outcome: BisectOutcome) -> None:
        self.bisect_outcome = outcome
        self.set_keep_items(outcome.keep.to_list())
        plan = self._bisect_plan
        assert plan is not None, "run_bisect keeps the plan it starts"
        tolerances, reason = plan.tolerances()
        self._show_check(outcome.check, tolerances, reason)
        self.details.show()
        self.details.setText(f"Precision bisect: {outcome.runs} onnxruntime runs; kept in FP32: "
                             f"{', '.join(outcome.keep.to_list()) or 'nothing'} (marked in the triage list). "
                             "Convert & check, then apply, to make it a history step.")
        model = self.session.model
        ops = {node.name: node.op_type for node in model.proto.graph.node} if model is not None else {}
        self.session.set_problems(PROBLEM_SOURCE, [Problem(
            ProblemKind.PRECISION_KEEP, Severity.INFO,
            f"Kept in FP32 by the precision bisect ({plan.mode.upper()}, atol {tolerances.atol:g}, "
            f"rtol {tolerances.rtol:g})", node=name, op=ops.get(name, ""), stage=Stage.MODEL)
            for name in outcome.keep.nodes])

    def _show_check(self, check: AccuracyCheck, tolerances: Tolerances, reason: str) -> None:
        # An output the tolerance cannot judge (larger than the outputs themselves) is neither within nor beyond.
        judged = all(o.verdict is not Verdict.CANNOT_JUDGE for o in check.outputs) or check.overflows or \
            any(o.verdict is Verdict.FAIL for o in check.outputs)
        verdict = "Within tolerance" if check.passed else "Beyond tolerance" if judged else \
            "Cannot judge: the tolerance is larger than some outputs"
        emulated = f" — {check.emulation}" if check.emulation else ""
        colour = palette.PASS_BACKGROUND if check.passed else palette.FAIL_BACKGROUND if judged else \
            palette.CANNOT_JUDGE_BACKGROUND
        self.status.setStyleSheet(f"background: {colour}; padding: 4px;")
        self.status.setText(f"{verdict}{emulated}. Tolerance atol {tolerances.atol:g}, rtol {tolerances.rtol:g} "
                            f"({reason})."
                            + "".join(f" Overflows float16: {tensor} (node {node})."
                                      for node, tensor in check.overflows.items()))
        self.table.setRowCount(len(check.outputs))
        for row, output in enumerate(check.outputs):
            values = (output.name, f"{output.max_abs:.4g}", f"{output.max_rel:.4g}", f"{output.cosine:.6f}",
                      str(output.verdict), output.reason)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setBackground(VERDICT_COLOURS[output.verdict])
                item.setToolTip(output.reason)  # the whole reason, from anywhere in the row
                self.table.setItem(row, column, item)

    def _show_error(self, error: WorkbenchError) -> None:
        self.status.setStyleSheet(f"background: {palette.FAIL_BACKGROUND}; padding: 4px;")
        self.status.setText(error.message + (f" — {error.hint}" if error.hint else ""))

    def _cancelled(self) -> None:
        self.status.setStyleSheet("")
        self.status.setText("Cancelled.")

    # State --------------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.jobs.running

    def _on_mode_changed(self, _index: int | None = None) -> None:
        mode = self.mode_key
        converting = mode in CONVERSION_MODES
        self.mode_note.setText(MODE_NOTES[mode])
        self.keep_label.setText("Keep in FP32" if mode == AS_EXPORTED or converting else "Leave unquantized")
        self.run_button.setText("Convert && check" if mode == AS_EXPORTED or converting else "Quantize && check")
        if mode != AS_EXPORTED:
            atol, rtol, reason = default_tolerances(mode)
            self.atol.setText(f"{atol:g}")
            self.rtol.setText(f"{rtol:g}")
            self.tolerance_reason.setText(f"Default: {reason}.")
        self._update_enabled()

    def _on_model_changed(self, model: LoadedModel | None) -> None:
        if self.running and model is not None:
            self.check_task.abandon()
            self.bisect_task.abandon()
        if self.result is not None or self.table.rowCount():
            # A check of another model (or an earlier step) says nothing about this one.
            self.table.setRowCount(0)
            self.status.setText("No precision check of this model yet.")
            self.status.setStyleSheet("")
            self.details.clear()
            self.details.hide()
        self.result = None
        check = self.session.kept(ResultKind.PRECISION_CHECK, PrecisionResult)
        if check is not None:  # back to a checked model (undo, redo): its check, ready to apply again
            self.show_result(check)
        if model is not None:
            # Keep entries naming nodes or ops this model does not have belong to another model.
            known = {n.name for n in model.proto.graph.node} | {n.op_type for n in model.proto.graph.node}
            kept = [item for item in self.keep_items() if item in known]
            if kept != self.keep_items():
                self.set_keep_items(kept)
        if model is not None:
            self.current_precision.setText(
                f"Current model: {precision_label(model, BuildSettings(), self.session.backend)}")
        self._update_enabled()

    def _update_enabled(self) -> None:
        mode, model, running = self.mode_key, self.session.model, self.running
        usable = model is not None and mode != AS_EXPORTED and not running
        self.jobs.refresh()
        self.bisect_button.setEnabled(usable and mode in CONVERSION_MODES)
        self.bisect_button.setToolTip("" if mode in CONVERSION_MODES else
                                      "The bisect searches FP16/BF16 keep sets; its result can be the exclude set")
        self.apply_button.setEnabled(not running and self.result is not None
                                     and self.result.fix.before is model)
        self.keep_io.setEnabled(mode in CONVERSION_MODES)
        self.default_keep.setEnabled(mode in CONVERSION_MODES)
        quantizing = mode not in CONVERSION_MODES and mode != AS_EXPORTED
        # Converting keeps graph I/O, quantizing calibrates: one of the two rows, which leaves the results room.
        self.form.setRowVisible(self.tolerance_reason, mode != AS_EXPORTED)
        self.form.setRowVisible(self.keep_io, not quantizing)
        self.form.setRowVisible(self.calibration_row, quantizing)
        self.calibration.setEnabled(quantizing)
        self.samples.setEnabled(quantizing and self.calibration.currentIndex() == 0)
        self.keep_selected_button.setEnabled(bool(self.selected_node))
        for widget in (self.keep_list, self.keep_entry, self.add_button, self.remove_button):
            widget.setEnabled(mode != AS_EXPORTED)
