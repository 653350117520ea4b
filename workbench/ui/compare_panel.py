"""The Compare panel: does the engine (or the fixed model) compute what the ONNX model computes?

A thin view over ``workbench.core.compare.comparison``: it edits an ``InputSpec`` and ``CompareSettings``
(kept in ``session.recipe.inputs`` / ``.compare``), runs ``run_comparison`` in the background, and
shows the result: a pass/fail table, an error histogram and |error| heatmap for the selected output
(computed in the background too: outputs can hold millions of values), timing, and the first
diverging node, which it can select in the graph view.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.build.engine import BuildResult
from workbench.core.compare.comparison import CompareResult, CompareSettings, run_comparison
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import frozen_inputs
from workbench.core.compare.inputs import LAYOUTS, ImageSource, InputSpec
from workbench.core.compare.metrics import Tolerances, Verdict, abs_error, error_heatmap, error_histogram
from workbench.core.compare.report import write_report
from workbench.core.model.loading import LoadedModel
from workbench.core.progress import CancelToken, ProgressFn
from workbench.core.session import ResultKind
from workbench.ui import palette
from workbench.ui.session import Session
from workbench.ui.tables import keep_rows_in_view
from workbench.ui.tasks import Task
from workbench.ui.worker import Worker

# One background colour per verdict: green, red, and amber for "the tolerance cannot judge".
VERDICT_COLOURS = {Verdict.PASS: QColor(palette.PASS_BACKGROUND), Verdict.FAIL: QColor(palette.FAIL_BACKGROUND),
                   Verdict.CANNOT_JUDGE: QColor(palette.CANNOT_JUDGE_BACKGROUND)}
SELECTED_SATURATION = 2.5  # a selected row shows its verdict colour this much more saturated
PLOTS_MIN_HEIGHT = 140  # px: below this the |error| plots are unreadable
SOURCES = ("Random (seeded)", "Data file (.npz / .npy)", "Images")
TARGETS = ("Original vs current model (onnxruntime)", "TensorRT engine")
RESULT_COLUMNS = ("output", "shape", "max |err|", "mean |err|", "max rel", "cosine", "outside", "NaN/Inf",
                  "top-1 / top-k", "verdict", "reason")


def _number(value: float) -> str:
    return f"{value:.4g}" if np.isfinite(value) else str(value)


@dataclass(frozen=True)
class ErrorPlots:
    """What the plots show for one output: |error| histogram over log10 bins, and the heatmap image (or None)."""

    name: str
    counts: np.ndarray
    edges: np.ndarray
    image: np.ndarray | None  # already transposed for ImageItem (its first axis is x), non-finite values as 0
    ndim: int


def error_plots(name: str, reference: np.ndarray, test: np.ndarray, progress: ProgressFn,
                cancel: CancelToken) -> ErrorPlots:
    error = abs_error(reference, test)
    counts, edges = error_histogram(error)
    error_map = error_heatmap(error)
    image = None if error_map is None else np.nan_to_num(error_map.T, nan=0.0, posinf=0.0)
    return ErrorPlots(name, counts, edges, image, error.ndim)


class ComparePanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.result: CompareResult | None = None
        self._row_verdicts: list[Verdict] = []  # the table's rows, for the selection colour
        self.compare_task = Task(self, session, "compare", on_done=self.show_result, on_error=self._comparison_failed,
                                 on_progress=self._on_progress, on_cancelled=self._cancelled, on_end=self._on_done,
                                 errors_in_place=True)
        self.plot_task = Task(self, session, "compare", on_done=self._draw_plots)
        self.export_task = Task(self, session, "compare", on_done=self._exported, on_error=self._show_error,
                                errors_in_place=True)
        self._build()
        self._load_recipe()
        self._compared_for: LoadedModel | None = None  # the model the running (or shown) comparison is about
        self._compared_against = ""  # "engine" or "model": what that comparison ran against
        # The model the engine in the form was built from (None: chosen by hand).
        self._engine_for: LoadedModel | None = None
        session.engine_built.connect(self._on_engine_built)
        session.model_changed.connect(self._model_changed)
        self._update_enabled()

    # --- layout -------------------------------------------------------------------------------
    def _build(self) -> None:
        form = self.form = QFormLayout()
        self.target = QComboBox()
        self.target.addItems(TARGETS)
        self.target.currentIndexChanged.connect(self._update_enabled)
        form.addRow("Compare", self.target)
        self.engine_path = QLineEdit()
        self.engine_path.setPlaceholderText("engine from the last build, or choose one")
        self.choose_engine = QPushButton("Choose engine file…")
        self.choose_engine.clicked.connect(self._choose_engine)
        form.addRow("Engine", self._row(self.engine_path, self.choose_engine))

        self.source = QComboBox()
        self.source.addItems(SOURCES)
        self.source.currentIndexChanged.connect(self._update_enabled)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        form.addRow("Inputs", self._row(self.source, self.seed))
        self.data_paths = QLineEdit()
        self.data_paths.setPlaceholderText("files; several separated by ';'")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._choose_data)
        self.files_row = self._row(self.data_paths, self.browse)
        form.addRow("Files", self.files_row)
        self.image_input = QComboBox()
        self.layout_choice = QComboBox()
        self.layout_choice.addItems(LAYOUTS)
        self.color = QComboBox()
        self.color.addItems(["RGB", "BGR", "L"])
        self.mean = QLineEdit("0")
        self.std = QLineEdit("1")
        self.mean.setToolTip("per-channel mean after scaling to [0, 1], e.g. 0.485, 0.456, 0.406")
        self.std.setToolTip("per-channel std, e.g. 0.229, 0.224, 0.225")
        self.image_row = self._row(self.image_input, self.layout_choice, self.color, QLabel("mean"), self.mean,
                                   QLabel("std"), self.std)
        form.addRow("Image prep", self.image_row)

        self.atol = QLineEdit()
        self.rtol = QLineEdit()
        self.bisect = QCheckBox("Layerwise bisect on mismatch")
        self.timing_runs = QSpinBox()
        self.timing_runs.setRange(0, 10000)
        self.timing_runs.setSpecialValueText("no timing")
        self.timing_runs.setSuffix(" timed runs")
        form.addRow("Tolerances", self._row(QLabel("atol"), self.atol, QLabel("rtol"), self.rtol, self.bisect,
                                            self.timing_runs))

        self.run_button = QPushButton("Compare")
        self.run_button.clicked.connect(self.run_comparison)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.compare_task.cancel)
        self.export_button = QPushButton("Export report…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._choose_report)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.verdict = QLabel("No comparison yet.")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, len(RESULT_COLUMNS))
        self.table.setHorizontalHeaderLabels(RESULT_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)  # the reason takes the room that is left
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        self.table.itemSelectionChanged.connect(self._plot_selected)
        keep_rows_in_view(self.table)  # the plots below give way first

        self.histogram = pg.PlotWidget(title="|error| distribution")
        self.histogram.setLabel("bottom", "log10 |error|")
        self.histogram.setLabel("left", "elements")
        self.heatmap = pg.PlotWidget(title="|error| map")
        self.heatmap.invertY(True)
        self.heatmap.setAspectLocked(True)
        self.heatmap_image = pg.ImageItem()
        self.heatmap_image.setColorMap(pg.colormap.get("viridis"))
        self.heatmap.addItem(self.heatmap_image)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.setMinimumHeight(PLOTS_MIN_HEIGHT)  # squeezed below this the plots are unreadable
        plots.addWidget(self.histogram)
        plots.addWidget(self.heatmap)

        self.bisect_label = QLabel("")
        self.bisect_label.setWordWrap(True)
        self.show_node = QPushButton("Show node in graph")
        self.show_node.setEnabled(False)
        self.show_node.clicked.connect(self._select_node)
        self.timing_label = QLabel("")

        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.verdict)
        results_layout.addWidget(self.table)
        self.bisect_row = self._row(self.bisect_label, self.show_node)
        self.bisect_row.hide()  # until a comparison bisected
        results_layout.addWidget(self.bisect_row)
        results_layout.addWidget(self.timing_label)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(results)
        splitter.addWidget(plots)
        splitter.setSizes([300, 260])

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self._row(self.run_button, self.cancel_button, self.export_button, self.progress))
        layout.addWidget(splitter, 1)

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in widgets:
            layout.addWidget(widget)
        return row

    # --- settings ↔ recipe --------------------------------------------------------------------
    def _load_recipe(self) -> None:
        recipe = self.session.recipe
        try:
            spec, settings = InputSpec.from_dict(recipe.inputs), CompareSettings.from_dict(recipe.compare)
        except WorkbenchError as exc:
            self._refuse(exc)
            spec, settings = InputSpec(), CompareSettings()
        self.seed.setValue(spec.seed)
        if spec.images:
            self.source.setCurrentIndex(2)
            name, images = next(iter(spec.images.items()))
            self.data_paths.setText(";".join(images.paths))
            self.layout_choice.setCurrentText(images.layout)
            self.color.setCurrentText(images.color)
            self.mean.setText(", ".join(f"{v:g}" for v in images.mean))
            self.std.setText(", ".join(f"{v:g}" for v in images.std))
        elif spec.data_files:
            self.source.setCurrentIndex(1)
            self.data_paths.setText(";".join(spec.data_files))
        self.target.setCurrentIndex(1 if settings.against == "engine" else 0)
        self.engine_path.setText(settings.engine_path)
        self.atol.setText(f"{settings.tolerances.atol:g}")
        self.rtol.setText(f"{settings.tolerances.rtol:g}")
        self.bisect.setChecked(settings.bisect)
        self.timing_runs.setValue(settings.timing_runs)

    def _floats(self, field: QLineEdit, what: str) -> tuple[float, ...]:
        try:
            values = tuple(float(v) for v in field.text().replace(",", " ").split())
        except ValueError:
            values = ()
        if not values:
            raise WorkbenchError(f"Cannot read {what} '{field.text()}'.", "Enter numbers, e.g. 1e-5 or 0.485, 0.456.")
        return values

    def input_spec(self) -> InputSpec:
        spec = InputSpec.from_dict(self.session.recipe.inputs)
        spec.seed = self.seed.value()
        paths = [p.strip() for p in self.data_paths.text().split(";") if p.strip()]
        spec.data_files, spec.images = [], {}
        if self.source.currentIndex() == 1:
            spec.data_files = paths
        elif self.source.currentIndex() == 2:
            spec.images = {self.image_input.currentText(): ImageSource(
                paths, layout=self.layout_choice.currentText(), color=self.color.currentText(),
                mean=self._floats(self.mean, "the image mean"), std=self._floats(self.std, "the image std"))}
        return spec

    def settings(self) -> CompareSettings:
        base = CompareSettings.from_dict(self.session.recipe.compare)
        tolerances = Tolerances(self._floats(self.atol, "atol")[0], self._floats(self.rtol, "rtol")[0],
                                base.tolerances.per_output, base.tolerances.infinities_compare_equal)
        return CompareSettings(against="engine" if self.target.currentIndex() == 1 else "model",
                               engine_path=self.engine_path.text().strip(), tolerances=tolerances, top_k=base.top_k,
                               profile_index=base.profile_index, timing_runs=self.timing_runs.value(),
                               warmup=base.warmup, bisect=self.bisect.isChecked())

    def _update_enabled(self) -> None:
        engine = self.target.currentIndex() == 1
        self.engine_path.setEnabled(engine)
        self.choose_engine.setEnabled(engine)
        source = self.source.currentIndex()
        # Rows the chosen inputs do not use are hidden, which keeps the results in view on a short screen.
        self.form.setRowVisible(self.files_row, source > 0)
        self.form.setRowVisible(self.image_row, source == 2)
        model = self.session.model
        names = [t.name for t in model.summary().inputs] if model else []
        if names != [self.image_input.itemText(i) for i in range(self.image_input.count())]:
            self.image_input.clear()
            self.image_input.addItems(names)
        busy = self.compare_task.running
        self.run_button.setEnabled(model is not None and not busy)
        self.cancel_button.setEnabled(busy)
        self.export_button.setEnabled(self.result is not None and not busy)

    # --- actions ------------------------------------------------------------------------------
    def _on_engine_built(self, result: BuildResult) -> None:
        path = result.engine_path
        if path:
            self.engine_path.setText(path)
            self._engine_for = self.session.model
            self.target.setCurrentIndex(1)

    def _model_changed(self, model: LoadedModel | None) -> None:
        """A result, an engine path or plots of another model (or an earlier step) go: they are not this model's."""
        if self._engine_for is not None and self._engine_for is not model:
            self.engine_path.clear()
            self._engine_for = None
        kept = self.session.kept(ResultKind.COMPARISON, CompareResult)
        if kept is not None and not self.compare_task.running:  # back to a compared model (undo, redo)
            self._compared_for = model
            self._show_comparison(kept)
        elif self.result is not None and self._compared_for is not model:
            self.clear_result("No comparison of this model yet.")
        self._update_enabled()

    def clear_result(self, text: str) -> None:
        self.result = None
        self.verdict.setText(text)
        self.verdict.setStyleSheet("")
        self.table.setRowCount(0)
        self._row_verdicts = []
        self.bisect_row.hide()
        self.histogram.clear()
        self.histogram.setTitle("")
        self.heatmap_image.clear()
        self.heatmap.setTitle("")

    def _choose_engine(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a TensorRT engine", "",
                                              "TensorRT engines (*.engine *.plan *.trt);;All files (*)")
        if path:
            self.engine_path.setText(path)

    def _choose_data(self) -> None:
        if self.source.currentIndex() == 2:
            paths, _ = QFileDialog.getOpenFileNames(self, "Choose images", "",
                                                    "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)")
        else:
            paths, _ = QFileDialog.getOpenFileNames(self, "Choose input data", "", "NumPy data (*.npz *.npy)")
        if paths:
            self.data_paths.setText(";".join(paths))

    def run_comparison(self) -> Worker | None:
        session = self.session
        if session.model is None or self.compare_task.running:
            return None
        try:
            spec, settings = self.input_spec(), self.settings()
        except WorkbenchError as exc:
            self._refuse(exc)
            return None
        session.recipe.inputs, session.recipe.compare = spec.to_dict(), settings.to_dict()
        # Engine: it was built from the current model. Models: the original is the reference for the fixes, fed
        # the values the fixes froze (the fixed model only has that path), as the fixes' own parity check is.
        reference = session.model if settings.against == "engine" else (session.original or session.model)
        if settings.against != "engine" and reference is not session.model:
            frozen = frozen_inputs(reference, session.recipe.fixes)
            spec = replace(spec, value_ranges={**{name: (float(v.reshape(-1)[0]), float(v.reshape(-1)[0]))
                                                  for name, v in frozen.items() if v.size and np.all(v == v.flat[0])},
                                               **spec.value_ranges})
        self._compared_for, self._compared_against = session.model, settings.against
        worker = self.compare_task.start(run_comparison, reference, settings, spec, session.backend,
                                         against=session.model, profiles=list(session.recipe.profiles))
        self.verdict.setText("Comparing…")
        self.verdict.setStyleSheet("")
        session.busy_changed.emit(True, "Comparing")
        session.set_stage("compare", "running", "comparing against onnxruntime")
        self._update_enabled()
        return worker

    def _on_progress(self, phase: str, fraction: float | None) -> None:
        self.progress.setFormat(f"{phase} %p%" if fraction is not None else phase)
        self.progress.setRange(0, 100 if fraction is not None else 0)
        if fraction is not None:
            self.progress.setValue(int(fraction * 100))

    def _on_done(self) -> None:
        self.progress.setRange(0, 100)
        self.session.busy_changed.emit(False, "")
        self._update_enabled()

    def _cancelled(self) -> None:
        self.verdict.setText("Comparison cancelled.")
        self.session.set_stage("compare", "none", "the last comparison was cancelled")

    def _comparison_failed(self, error: WorkbenchError) -> None:
        # Not a mismatch: nothing was compared (e.g. no GPU to run the engine), so no verdict either way.
        self.session.set_stage("compare", "none", f"the comparison could not run: {error.message}")
        self._show_error(error)

    def _show_error(self, error: WorkbenchError) -> None:
        self.verdict.setText(f"{error.message}\n{error.hint}".strip())
        self.verdict.setStyleSheet(f"background: {palette.FAIL_BACKGROUND}; padding: 4px;")

    def _refuse(self, error: WorkbenchError) -> None:
        """Settings that cannot be used: said here, and in the Log panel."""
        self._show_error(error)
        self.session.report_error(error, "compare", shown_in_place=True)

    def show_result(self, result: CompareResult) -> None:
        # Kept with the model it is about, even when that is an earlier step now (an undo shows it again).
        self.session.keep(ResultKind.COMPARISON, result, self._compared_for)
        if self._compared_for is not self.session.model:
            return  # the model changed while it ran: the verdict is about another model
        # "Matches onnxruntime" is the engine's claim: a model-vs-model comparison (the fixes' effect) proves
        # nothing about TensorRT, so it leaves the strip's stage as it is and shows its verdict here only.
        if self._compared_against == "engine":
            self.session.set_stage("compare", "ok" if result.passed else "failed",
                                   f"{result.reference} vs {result.test}: {result.summary}")
        else:
            self.session.set_stage("compare", "none", f"no engine compared yet (model vs model: {result.summary})")
        self._show_comparison(result)

    def _show_comparison(self, result: CompareResult) -> None:
        self.result = result
        self.verdict.setText(result.headline())
        self.verdict.setStyleSheet(f"background: {VERDICT_COLOURS[result.verdict].name()}; padding: 4px;")
        self.table.setRowCount(0)
        self._row_verdicts = []
        rows = [(o.name, "×".join(map(str, o.shape)), _number(o.max_abs), _number(o.mean_abs), _number(o.max_rel),
                 f"{o.cosine:.6f}", f"{o.outside_fraction:.2%}", f"{o.nan_ref + o.nan_test}/{o.inf_ref + o.inf_test}",
                 "–" if o.top1_agreement is None else f"{o.top1_agreement:.0%} / {o.topk_agreement:.0%}",
                 str(o.verdict), o.reason, o.verdict) for o in result.outputs]
        rows += [(name, "", "", "", "", "", "", "", "", str(Verdict.FAIL), "missing: the test side has no such output",
                  Verdict.FAIL) for name in result.missing_outputs]
        for row, (*cells, verdict) in enumerate(rows):
            self._row_verdicts.append(verdict)
            self.table.insertRow(row)
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setBackground(VERDICT_COLOURS[verdict])
                item.setToolTip(cells[-1])  # the reason, readable from anywhere in the row
                self.table.setItem(row, column, item)
        self.table.resizeRowsToContents()
        bisect = result.bisect
        self.bisect_row.setVisible(bisect is not None)
        self.bisect_label.setText(bisect.message if bisect else "")
        self.show_node.setEnabled(bool(bisect and bisect.found))
        self.timing_label.setText("\n".join(t.describe() for t in result.timing))
        if rows:
            failing = next((i for i, r in enumerate(rows) if r[-1] is not Verdict.PASS), 0)
            self.table.selectRow(failing)
        self._update_enabled()

    def _plot_selected(self) -> None:
        self.histogram.clear()
        self.heatmap_image.clear()
        result = self.result
        rows = self.table.selectionModel().selectedRows() if result else []
        if result is None or not rows:
            self.plot_task.abandon()  # plots of a previous selection must not arrive
            return
        # The selection keeps the row's verdict colour (a darker shade) instead of the system highlight.
        palette = self.table.palette()
        colour = VERDICT_COLOURS[self._row_verdicts[rows[0].row()]]
        palette.setColor(QPalette.ColorRole.Highlight, QColor.fromHsv(colour.hue(), min(255, int(colour.saturation()
                                                                                       * SELECTED_SATURATION)),
                                                            colour.value()))
        palette.setColor(QPalette.ColorRole.HighlightedText, QColor("black"))
        self.table.setPalette(palette)
        name_cell = self.table.item(rows[0].row(), 0)
        name = name_cell.text() if name_cell is not None else ""
        if name not in result.arrays:
            return
        reference, test = result.arrays[name]
        if reference.shape != test.shape:
            self.plot_task.abandon()
            return
        self.histogram.setTitle(f"|error| distribution: {name} (computing…)")
        self.plot_task.start(error_plots, name, reference, test)

    def _draw_plots(self, plots: ErrorPlots) -> None:
        if plots.counts.size:
            self.histogram.addItem(pg.BarGraphItem(x0=plots.edges[:-1], x1=plots.edges[1:], height=plots.counts,
                                                   brush=palette.PLOT))
        self.histogram.setTitle(f"|error| distribution: {plots.name}")
        if plots.image is not None:
            self.heatmap_image.setImage(plots.image, autoLevels=True)
            self.heatmap.setTitle(f"|error| map: {plots.name}"
                                  + (" (item 0, max over channels)" if plots.ndim == 4 else ""))
        else:
            self.heatmap.setTitle("|error| map: only for 2-D and 4-D outputs")

    def _select_node(self) -> None:
        if self.result and self.result.bisect and self.result.bisect.found:
            self.session.node_selected.emit(self.result.bisect.node)

    def _choose_report(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison report", "comparison.html",
                                              "HTML report (*.html)")
        if path:
            self.export_report(path)

    def export_report(self, path: str | Path) -> Worker:
        """Write JSON + HTML in the background (the plots are computed over whole outputs)."""
        return self.export_task.start(_write_report, self.result, path)

    def _exported(self, written: tuple[Path, Path]) -> None:
        self.session.log("info", f"Comparison report written: {written[1]}", "compare")


def _write_report(result: CompareResult, path: str | Path, progress: ProgressFn,
                  cancel: CancelToken) -> tuple[Path, Path]:
    return write_report(result, path)
