"""Log panel: every TensorRT logger message and app message, with severity filter, search and copy."""

from __future__ import annotations

import weakref

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QGuiApplication
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLineEdit, QPushButton, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from workbench.core.analysis.support import SupportReport
from workbench.core.backend import LogMessage
from workbench.ui import palette
from workbench.ui.session import Session
from workbench.ui.qt_items import top_level_items

SEVERITY_ORDER = ("internal_error", "error", "warning", "info", "verbose")
# Filter label → most verbose severity shown.
LEVELS = {"Errors": "error", "Warnings": "warning", "Info": "info", "Everything": "verbose"}
_COLOURS = {"internal_error": palette.ERROR, "error": palette.ERROR, "warning": palette.WARNING}
MAX_MESSAGES = 20_000  # a verbose build can log far more; the oldest go first


class LogPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("Info")
        self.search = QLineEdit(placeholderText="Search the log…", clearButtonEnabled=True)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy the selected messages (all shown messages when none is selected)")
        clear = QPushButton("Clear")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Severity", "Source", "Message"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.tree.setColumnWidth(0, 90)
        self.tree.setColumnWidth(1, 130)  # fits "onnx-graphsurgeon"
        # Two messages at least: the dock is short by default (the panels above need the height more).
        self.tree.setMinimumHeight(self.tree.header().sizeHint().height() + 2 * (self.fontMetrics().height() + 4)
                                   + 2 * self.tree.frameWidth())

        bar = QHBoxLayout()
        bar.addWidget(self.level)
        bar.addWidget(self.search, 1)
        bar.addWidget(copy)
        bar.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.tree)

        self.level.currentTextChanged.connect(self._refilter)
        self.search.textChanged.connect(self._refilter)
        copy.clicked.connect(self.copy)
        clear.clicked.connect(self.tree.clear)
        # Workers log from their threads: queue every message to this (GUI) thread.
        session.log_message.connect(self.add_message, Qt.ConnectionType.QueuedConnection)
        self._logged_reports: list[weakref.ref] = []
        session.report_changed.connect(self._add_report_log)

    def add_message(self, message: LogMessage) -> None:
        item = QTreeWidgetItem([message.severity, message.source, message.text])
        item.setData(0, Qt.ItemDataRole.UserRole, message)
        item.setToolTip(2, message.text)
        if message.severity in _COLOURS:
            for column in range(3):
                item.setForeground(column, QBrush(QColor(_COLOURS[message.severity])))
        if self.tree.topLevelItemCount() >= MAX_MESSAGES:
            self.tree.takeTopLevelItem(0)
        self.tree.addTopLevelItem(item)
        item.setHidden(not self._shown(message))
        if not item.isHidden():
            self.tree.scrollToItem(item)

    def _add_report_log(self, report: SupportReport) -> None:
        # Reports compare by value and cannot be hashed: the ones logged are remembered by identity, weakly.
        self._logged_reports = [ref for ref in self._logged_reports if ref() is not None]
        if any(ref() is report for ref in self._logged_reports):
            return  # an undo or redo shows a model's report again: its messages are already here
        self._logged_reports.append(weakref.ref(report))
        for message in report.log:
            self.add_message(message)

    def _shown(self, message: LogMessage) -> bool:
        limit = SEVERITY_ORDER.index(LEVELS[self.level.currentText()])
        needle = self.search.text().strip().lower()
        rank = SEVERITY_ORDER.index(message.severity) if message.severity in SEVERITY_ORDER else 3
        return rank <= limit and (not needle or needle in message.text.lower() or needle in message.source.lower())

    def _refilter(self) -> None:
        for item in top_level_items(self.tree):
            item.setHidden(not self._shown(item.data(0, Qt.ItemDataRole.UserRole)))

    def visible_messages(self) -> list[LogMessage]:
        return [item.data(0, Qt.ItemDataRole.UserRole) for item in top_level_items(self.tree) if not item.isHidden()]

    def copy(self) -> str:
        selected = [i.data(0, Qt.ItemDataRole.UserRole) for i in self.tree.selectedItems() if not i.isHidden()]
        text = "\n".join(f"[{m.severity}] {m.source}: {m.text}" for m in selected or self.visible_messages())
        QGuiApplication.clipboard().setText(text)
        return text
