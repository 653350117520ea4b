"""The History panel: the applied fixes as a QUndoStack over immutable model snapshots.

Each command keeps the exact ``LoadedModel`` objects before and after its fix, so undo hands the
session the previous model itself (byte-identical) and the recipe's fix list goes back with it.
One stack per session, found or created by ``fix_history(session)``.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QUndoView, QVBoxLayout, QWidget

from workbench.core.fixes import FixResult
from workbench.ui.session import Session

_STACK_NAME = "fix-history"


class FixHistory(QUndoStack):
    """The session's undo stack; it empties itself when a different model is opened."""

    def __init__(self, session: Session):
        super().__init__(session)
        self.setObjectName(_STACK_NAME)
        self.session = session
        self._expected = None  # the model a command is about to set (any other model means a new file)
        session.model_changed.connect(self._on_model_changed)

    def set_model(self, model, fixes: list[dict]) -> None:
        self._expected = model
        self.session.recipe.fixes = [dict(step) for step in fixes]
        self.session.set_model(model)

    def _on_model_changed(self, model) -> None:
        if model is not self._expected:
            self.clear()
        self._expected = None


def fix_history(session: Session) -> FixHistory:
    return session.findChild(FixHistory, _STACK_NAME) or FixHistory(session)


class ApplyFixCommand(QUndoCommand):
    def __init__(self, history: FixHistory, result: FixResult):
        super().__init__(result.step.spec())
        self.history, self.result = history, result
        self.fixes_before = [dict(step) for step in history.session.recipe.fixes]
        self.fixes_after = self.fixes_before + [result.step.to_dict()]

    def redo(self) -> None:
        self.history.set_model(self.result.after, self.fixes_after)

    def undo(self) -> None:
        self.history.set_model(self.result.before, self.fixes_before)


class HistoryPanel(QWidget):
    def __init__(self, session: Session, parent=None):
        super().__init__(parent)
        self.session = session
        self.stack = fix_history(session)
        self.view = QUndoView(self.stack)
        self.view.setEmptyLabel("Model as opened")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.undo_button.clicked.connect(self.stack.undo)
        self.redo_button.clicked.connect(self.stack.redo)
        self.stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.stack.canRedoChanged.connect(self.redo_button.setEnabled)
        self.undo_button.setEnabled(self.stack.canUndo())
        self.redo_button.setEnabled(self.stack.canRedo())
        self.hint = QLabel("Click a row to go back to that point; applied fixes are saved with the recipe.")
        self.hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.redo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
