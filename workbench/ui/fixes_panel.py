"""The Fixes panel: the whole catalogue, which fixes apply to the open model, and the last parity verdict.

It also answers ``session.fix_requested`` (the triage view's "Fix: …" actions) by opening the fix
dialog pre-filled for that problem.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from workbench.core.compare.parity import ParityResult
from workbench.core.fixes.apply import FixResult
from workbench.core.fixes.registry import FIXES
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem
from workbench.ui import palette
from workbench.ui.fix_dialog import VERDICT_COLOURS, FixDialog
from workbench.ui.session import Session


class FixesPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.dialog: FixDialog | None = None
        self._problems_by_fix: dict[str, list[Problem]] = {}
        self.list = QListWidget()
        for fix in FIXES.values():
            item = QListWidgetItem(f"{fix.title}  ({fix.name})")
            item.setData(Qt.ItemDataRole.UserRole, fix.name)
            item.setToolTip(fix.description)
            self.list.addItem(item)
        self.description = QLabel("Select a fix to see what it does.")
        self.description.setWordWrap(True)
        self.open_button = QPushButton("Preview / apply…")
        self.open_button.setEnabled(False)
        self.parity_label = QLabel()
        self.parity_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.description)
        layout.addWidget(self.open_button)
        layout.addWidget(self.parity_label)

        self.list.currentItemChanged.connect(self._on_selected)
        self.list.itemDoubleClicked.connect(lambda _item: self.open_selected())
        self.open_button.clicked.connect(self.open_selected)
        session.fix_requested.connect(self.open_fix)
        session.problems_changed.connect(self._on_problems)
        self._parity_for: LoadedModel | None = None  # the model the "Last fix" parity line is about
        session.model_changed.connect(self._model_changed)

    def selected_fix(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def _on_selected(self, *_args: object) -> None:
        name = self.selected_fix()
        if name:
            problems = self._problems_by_fix.get(name, [])
            applies = f"\n\nApplies here: {len(problems)} problem(s), e.g. {problems[0].message}" if problems else ""
            self.description.setText(FIXES[name].description + applies)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.open_button.setEnabled(self.session.model is not None and self.selected_fix() is not None)

    def _on_problems(self, problems: list[Problem]) -> None:
        self._problems_by_fix = {}
        for problem in problems:
            for name in problem.fixes:
                self._problems_by_fix.setdefault(name, []).append(problem)
        for row in range(self.list.count()):
            item = self.list.item(row)
            name = item.data(Qt.ItemDataRole.UserRole)
            count = len(self._problems_by_fix.get(name, []))
            font = QFont(item.font())
            font.setBold(bool(count))
            item.setFont(font)
            item.setText(f"{FIXES[name].title}  ({name})" + (f" — applies to {count} problem(s)" if count else ""))
        self._on_selected()

    def open_selected(self) -> FixDialog | None:
        name = self.selected_fix()
        if name is None or self.session.model is None:
            return None
        problems = self._problems_by_fix.get(name, [])
        return self.open_fix(problems[0] if problems else None, name)

    def open_fix(self, problem: Problem | None, fix_name: str) -> FixDialog | None:
        if self.session.model is None:
            return None
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = FixDialog(self.session, fix_name, problem, self)
        self.dialog.parity_checked.connect(self._show_parity)
        self.dialog.show()
        return self.dialog

    def _model_changed(self, model: LoadedModel) -> None:
        if model is not self._parity_for:  # the last fix's parity is about another model (or an earlier step)
            self.parity_label.clear()
            self._parity_for = None
        self._update_buttons()

    def _show_parity(self, result: FixResult, parity: ParityResult) -> None:
        self._parity_for = result.after
        colour = VERDICT_COLOURS.get(parity.verdict, palette.NOTE)
        self.parity_label.setText(f"Last fix: {result.step.spec()}<br><span style='color:{colour}'>"
                                  f"Parity: {parity.text}</span>")
