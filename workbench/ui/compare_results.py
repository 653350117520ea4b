"""The Compare panel's results: the verdict, a pass/fail table, the |error| plots, the bisect and the timing.

The table has one row per output, coloured by verdict; selecting a row plots that output's |error|
histogram and heatmap, computed in the background (outputs can hold millions of values). A bisect's
first diverging node can be selected in the graph view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QPushButton, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from workbench.core.compare.comparison import CompareResult
from workbench.core.compare.metrics import Verdict, abs_error, error_heatmap, error_histogram
from workbench.core.errors import WorkbenchError
from workbench.core.progress import CancelToken, ProgressFn
from workbench.ui import palette
from workbench.ui.compare_form import widget_row
from workbench.ui.session import Session
from workbench.ui.tables import keep_rows_in_view
from workbench.ui.tasks import Task

# One background colour per verdict: green, red, and amber for "the tolerance cannot judge".
VERDICT_COLOURS = {Verdict.PASS: QColor(palette.PASS_BACKGROUND), Verdict.FAIL: QColor(palette.FAIL_BACKGROUND),
                   Verdict.CANNOT_JUDGE: QColor(palette.CANNOT_JUDGE_BACKGROUND)}
SELECTED_SATURATION = 2.5  # a selected row shows its verdict colour this much more saturated
PLOTS_MIN_HEIGHT = 140  # px: below this the |error| plots are unreadable
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


class CompareResults(QSplitter):
    """The verdict, table, bisect and timing above the plots, which give way first on a short screen."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Vertical, parent)
        self.session = session
        self.result: CompareResult | None = None
        self._row_verdicts: list[Verdict] = []  # the table's rows, for the selection colour
        self.plot_task = Task(self, session, "compare", on_done=self._draw_plots)

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

        # pyqtgraph's plots are made when the first output is plotted: importing pyqtgraph costs ~0.6 s, a quarter
        # of the window's start (benchmarks/bench_window.py), for plots that exist only after a comparison.
        self._plot_widgets: tuple[Any, Any, Any] | None = None
        self.plots = QSplitter(Qt.Orientation.Horizontal)
        self.plots.setMinimumHeight(PLOTS_MIN_HEIGHT)  # squeezed below this the plots are unreadable
        self._plots_placeholder = QLabel("The |error| histogram and map of the selected output appear here.")
        self._plots_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._plots_placeholder.setWordWrap(True)
        self.plots.addWidget(self._plots_placeholder)

        self.bisect_label = QLabel("")
        self.bisect_label.setWordWrap(True)
        self.show_node = QPushButton("Show node in graph")
        self.show_node.setEnabled(False)
        self.show_node.clicked.connect(self._select_node)
        self.timing_label = QLabel("")

        summary = QWidget()
        summary_layout = QVBoxLayout(summary)
        summary_layout.setContentsMargins(0, 0, 0, 0)
        summary_layout.addWidget(self.verdict)
        summary_layout.addWidget(self.table)
        self.bisect_row = widget_row(self.bisect_label, self.show_node)
        self.bisect_row.hide()  # until a comparison bisected
        summary_layout.addWidget(self.bisect_row)
        summary_layout.addWidget(self.timing_label)
        self.addWidget(summary)
        self.addWidget(self.plots)
        self.setSizes([300, 260])

    def say(self, text: str) -> None:
        """A plain line in the verdict's place (e.g. "Comparing…"); the table stays."""
        self.verdict.setText(text)
        self.verdict.setStyleSheet("")

    def show_error(self, error: WorkbenchError) -> None:
        self.verdict.setText(f"{error.message}\n{error.hint}".strip())
        self.verdict.setStyleSheet(f"background: {palette.FAIL_BACKGROUND}; padding: 4px;")

    def clear(self, text: str) -> None:
        """No result any more: ``text`` says why."""
        self.result = None
        self.say(text)
        self.table.setRowCount(0)
        self._row_verdicts = []
        self.bisect_row.hide()
        if self._plot_widgets is not None:
            self.histogram.clear()
            self.histogram.setTitle("")
            self.heatmap_image.clear()
            self.heatmap.setTitle("")

    def show_comparison(self, result: CompareResult) -> None:
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

    def _plot_selected(self) -> None:
        self.histogram.clear()
        self.heatmap_image.clear()
        result = self.result
        rows = self.table.selectionModel().selectedRows() if result else []
        if result is None or not rows:
            self.plot_task.abandon()  # plots of a previous selection must not arrive
            return
        # The selection keeps the row's verdict colour (a darker shade) instead of the system highlight.
        colours = self.table.palette()
        colour = VERDICT_COLOURS[self._row_verdicts[rows[0].row()]]
        colours.setColor(QPalette.ColorRole.Highlight, QColor.fromHsv(
            colour.hue(), min(255, int(colour.saturation() * SELECTED_SATURATION)), colour.value()))
        colours.setColor(QPalette.ColorRole.HighlightedText, QColor("black"))
        self.table.setPalette(colours)
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

    @property
    def histogram(self) -> Any:  # pg.PlotWidget
        return self._made_plots()[0]

    @property
    def heatmap(self) -> Any:  # pg.PlotWidget
        return self._made_plots()[1]

    @property
    def heatmap_image(self) -> Any:  # pg.ImageItem
        return self._made_plots()[2]

    def _made_plots(self) -> tuple[Any, Any, Any]:
        if self._plot_widgets is None:
            import pyqtgraph as pg  # heavy: imported by the first plot, not at the window's start

            histogram = pg.PlotWidget(title="|error| distribution")
            histogram.setLabel("bottom", "log10 |error|")
            histogram.setLabel("left", "elements")
            heatmap = pg.PlotWidget(title="|error| map")
            heatmap.invertY(True)
            heatmap.setAspectLocked(True)
            image = pg.ImageItem()
            image.setColorMap(pg.colormap.get("viridis"))
            heatmap.addItem(image)
            self._plots_placeholder.hide()
            self.plots.addWidget(histogram)
            self.plots.addWidget(heatmap)
            self._plot_widgets = (histogram, heatmap, image)
        return self._plot_widgets

    def _draw_plots(self, plots: ErrorPlots) -> None:
        import pyqtgraph as pg  # already imported by _made_plots

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
