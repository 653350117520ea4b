"""The History panel: a view of the session's fix history (``workbench.core.session.FixHistory``).

The first row is the model as opened; each further row is an applied step (a fix, or a repair as
one entry). The current position is selected; steps after it were undone and are greyed until a
new fix replaces them. Clicking a row, Undo and Redo move the session along the history; the panel
only mirrors it.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from workbench.ui import palette
from workbench.ui.session import Session

AS_OPENED = "Model as opened"


class HistoryPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.list = QListWidget()
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.hint = QLabel("Click a row to go back to that point; applied fixes are saved with the recipe.")
        self.hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.redo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)

        self.undo_button.clicked.connect(session.undo)
        self.redo_button.clicked.connect(session.redo)
        self.list.itemClicked.connect(self._row_clicked)
        session.history_changed.connect(self._show_history)
        self._show_history()

    def _show_history(self) -> None:
        history = self.session.history
        self.list.clear()
        self.list.addItem(AS_OPENED)
        self.list.addItems([step.label for step in history.steps])
        undone = QBrush(QColor(palette.IDLE))
        for row in range(history.position + 1, self.list.count()):
            self.list.item(row).setForeground(undone)
        self.list.setCurrentRow(history.position)
        self.undo_button.setEnabled(history.can_undo)
        self.redo_button.setEnabled(history.can_redo)
        self.undo_button.setToolTip(f"Undo {history.undo_label}" if history.can_undo else "")
        self.redo_button.setToolTip(f"Redo {history.redo_label}" if history.can_redo else "")

    def _row_clicked(self, item: QListWidgetItem) -> None:
        self.session.move_to(self.list.row(item))
