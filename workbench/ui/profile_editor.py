"""The Profiles panel: one table per optimization profile (input × min/opt/max), kept in the recipe.

Cells hold trtexec-style shapes ("1x3x224x224"). Every edit is validated against the model with
``workbench.core.profiles``; an invalid cell turns red with the reason as its tooltip, and only a
fully valid set of profiles is written to ``session.recipe.profiles``.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from workbench.core.errors import WorkbenchError
from workbench.core.profiles import (FIELDS, Profile, ShapeRange, ProfileIssue, format_shape_list, parse_shape_list,
                                     profiles_from_recipe, profiles_to_recipe, suggest_profile, validate_profiles)

INVALID = QColor("#f4c7c3")


class ProfileEditor(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.tabs = QTabWidget()
        self.add_button = QPushButton("Add profile")
        self.duplicate_button = QPushButton("Duplicate")
        self.remove_button = QPushButton("Remove")
        self.status = QLabel()
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.duplicate_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch()
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        self.add_button.clicked.connect(lambda: self._add(suggest_profile(self._inputs())))
        self.duplicate_button.clicked.connect(self._duplicate)
        self.remove_button.clicked.connect(self._remove)
        session.model_changed.connect(self._load)
        self._loading = False
        if session.model is not None:
            self._load()

    def _inputs(self):
        return self.session.model.summary().inputs if self.session.model else []

    def _dynamic_inputs(self):
        return [t for t in self._inputs() if t.is_dynamic and t.shape is not None]

    def _load(self, _model=None) -> None:
        """Show the recipe's profiles, or one suggested profile for a model with dynamic inputs."""
        self.tabs.clear()
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError as exc:
            self.session.log("warning", f"The recipe's profiles were not loaded: {exc.message}", "profiles")
            profiles = []
        if not profiles and self._dynamic_inputs():
            profiles = [suggest_profile(self._inputs())]
        for profile in profiles:
            self._add(profile)
        self._validate()

    def _add(self, profile: Profile) -> None:
        names = [t.name for t in self._dynamic_inputs()]
        names += [n for n in profile.shapes if n not in names]  # misnamed entries stay visible, marked invalid
        table = QTableWidget(len(names), len(FIELDS))
        table.setHorizontalHeaderLabels(list(FIELDS))
        table.setVerticalHeaderLabels(names)
        self._loading = True
        for row, name in enumerate(names):
            rng = profile.shapes.get(name)
            for column, which in enumerate(FIELDS):
                text = format_shape_list({"": rng.get(which)})[1:] if rng else ""
                table.setItem(row, column, QTableWidgetItem(text))
        self._loading = False
        table.horizontalHeader().setStretchLastSection(True)
        table.itemChanged.connect(lambda _item: self._validate())
        self.tabs.addTab(table, f"Profile {self.tabs.count() + 1}")
        self.tabs.setCurrentWidget(table)
        self._validate()

    def _duplicate(self) -> None:
        profiles, _ = self._read()
        if profiles and self.tabs.currentIndex() >= 0:
            self._add(profiles[self.tabs.currentIndex()].copy())

    def _remove(self) -> None:
        index = self.tabs.currentIndex()
        if index >= 0:
            self.tabs.removeTab(index)
            for i in range(self.tabs.count()):
                self.tabs.setTabText(i, f"Profile {i + 1}")
            self._validate()

    def _read(self) -> tuple[list[Profile], list[ProfileIssue]]:
        """The tables as profiles, plus issues for cells that are not shapes at all."""
        profiles, issues = [], []
        for index in range(self.tabs.count()):
            table = self.tabs.widget(index)
            profile = Profile()
            for row in range(table.rowCount()):
                name = table.verticalHeaderItem(row).text()
                shapes = {}
                for column, which in enumerate(FIELDS):
                    text = table.item(row, column).text().strip()
                    try:
                        shapes[which] = parse_shape_list(f"{name}:{text}")[name] if text else None
                    except WorkbenchError as exc:
                        issues.append(ProfileIssue(index, name, f"Profile {index + 1}, '{name}': {exc.message}", which))
                    if not text:
                        issues.append(ProfileIssue(index, name, f"Profile {index + 1}, '{name}': {which} is empty.",
                                                   which))
                if all(shapes.get(which) is not None for which in FIELDS):
                    profile.shapes[name] = ShapeRange(shapes["min"], shapes["opt"], shapes["max"])
            profiles.append(profile)
        return profiles, issues

    def profiles(self) -> list[Profile]:
        return self._read()[0]

    def issues(self) -> list[ProfileIssue]:
        profiles, issues = self._read()
        return issues + validate_profiles(profiles, self._inputs())

    def _validate(self) -> None:
        if self._loading:
            return
        issues = self.issues()
        for index in range(self.tabs.count()):
            table = self.tabs.widget(index)
            table.blockSignals(True)
            for row in range(table.rowCount()):
                name = table.verticalHeaderItem(row).text()
                for column, which in enumerate(FIELDS):
                    reasons = [i.message for i in issues if i.profile == index and i.input == name and not i.values
                               and i.which in (which, "")]
                    item = table.item(row, column)
                    item.setBackground(QBrush(INVALID) if reasons else QBrush())
                    item.setToolTip("\n".join(reasons))
            table.blockSignals(False)
        if issues:
            self.status.setText(f"⚠ {len(issues)} problem(s): {issues[0].message}")
        elif not self._dynamic_inputs():
            self.status.setText("This model has no dynamic inputs; profiles are optional.")
        else:
            self.status.setText(f"{self.tabs.count()} valid profile(s); they are saved with the recipe.")
        if not issues:
            self.session.recipe.profiles = profiles_to_recipe(self.profiles())
