"""Model panel: what the file is — inputs/outputs, opsets, op histogram, parameter size."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget
from PySide6.QtCore import Qt

from workbench.core.model.loading import LoadedModel
from workbench.ui.session import Session


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list]) -> None:
    table.setSortingEnabled(False)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            item = QTableWidgetItem()
            item.setData(Qt.ItemDataRole.DisplayRole, value)
            table.setItem(r, c, item)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


class ModelPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.header = QLabel("No model loaded.")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tensors = _table(["", "Name", "Type", "Shape"])
        self.ops = _table(["Op", "Count"])
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tensors)
        splitter.addWidget(self.ops)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(splitter, 1)
        session.model_changed.connect(self.show_model)
        if session.model is not None:
            self.show_model(session.model)

    def show_model(self, model: LoadedModel) -> None:
        s = model.summary()
        opsets = ", ".join(f"{domain} {version}" for domain, version in s.opsets.items())
        nested = f" (+{s.subgraph_node_count} nested)" if s.subgraph_node_count else ""
        external = f"<br>External data: {escape(', '.join(s.external_data_files))}" if s.external_data_files else ""
        self.header.setText(
            f"<b>{escape(model.name)}</b> — {_size(s.file_size)}<br>"
            f"IR {s.ir_version} · opsets {escape(opsets)} · producer {escape(s.producer or '-')}<br>"
            f"{s.node_count} nodes{nested} · {s.parameter_count:,} parameters ({_size(s.parameter_bytes)})"
            f"{external}")
        rows = [["input", t.name, t.dtype, t.shape_text() + ("  dynamic" if t.is_dynamic else "")] for t in s.inputs]
        rows += [["output", t.name, t.dtype, t.shape_text()] for t in s.outputs]
        _fill(self.tensors, rows)
        _fill(self.ops, [[op, count] for op, count in s.op_histogram.items()])
        self.ops.setSortingEnabled(True)
