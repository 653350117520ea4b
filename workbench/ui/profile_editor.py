"""The Profiles panel: one table per optimization profile (input × min/opt/max), kept in the recipe.

Cells hold trtexec-style shapes ("1x3x224x224"). Shape-tensor inputs (integer inputs whose values
become shapes; the support report lists them, as the TensorRT parser found them in the analysis
child) get a "values" row each, in the same syntax ("1x64" = the values 1 and 64). Every edit is
validated against the model with ``workbench.core.shapes.profiles``; an invalid or missing cell turns red
with the reason as its tooltip, and only a fully valid set of profiles is written to
``session.recipe.profiles``.

Suggested profiles come from the shape service (``workbench.core.shapes.suggest``): first from what the
graph and the dims' names say, then — when the trial build has probed the model under onnxruntime —
the probed values, as long as the user has not edited the cells. Every suggested value is listed
with its source and reason. *Check against the model* runs onnxruntime at each row's min and max in
a worker (with progress and Cancel) and marks the row with the result; the check is kept with the
model (``session.keep``), and an undo or redo back to it shows the check again while the cells are
the ones it ran on.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from workbench.core.analysis.support import SupportReport
from workbench.core.errors import WorkbenchError
from workbench.core.model.input_roles import FREEZE_FLOAT_SHAPE_TENSOR, float_shape_tensor_text, is_float
from workbench.core.model.loading import LoadedModel, TensorInfo
from workbench.core.session import ResultKind
from workbench.core.shapes.profiles import (FIELDS, Profile, ProfileIssue, ShapeRange, format_shape_list,
                                            parse_shape_list, profiles_from_recipe, profiles_to_recipe,
                                            validate_profiles)
from workbench.core.shapes.dims import ShapeSuggestion
from workbench.core.shapes.profile_check import RowCheck, probe_profiles
from workbench.core.shapes.suggest import suggest_shapes
from workbench.ui import palette
from workbench.ui.session import Session
from workbench.ui.job_controls import JobControls
from workbench.ui.worker import Worker

INVALID = QColor(palette.INVALID_BACKGROUND)
CHECK_PASSED, CHECK_FAILED, CHECK_NOT_RUN = "✓", "✗", "⚠"
VALUES_SUFFIX = " (values)"

Row = tuple[str, bool]  # input name, whether the row holds a shape tensor's values rather than dims


@dataclass(frozen=True)
class ProfileCheck:
    """A check against the model and the cells it ran on (its verdict holds while the cells are these)."""

    rows: list[RowCheck]
    texts: list[dict]


class _ProfileTable(QTableWidget):
    """Rows are ``rows``, columns FIELDS; ``ProfileEditor._add`` puts an item in every cell."""

    def __init__(self, rows: list[Row]) -> None:
        super().__init__(len(rows), len(FIELDS))
        self.rows = rows
        self.setHorizontalHeaderLabels(list(FIELDS))
        self.setVerticalHeaderLabels([name + (VALUES_SUFFIX if values else "") for name, values in rows])
        for row, (_name, values) in enumerate(rows):
            self.header(row).setToolTip(
                "A shape tensor: the engine is built for the range of values it will hold (e.g. 1x64 = the values "
                "1 and 64), like trtexec's --minShapes/--optShapes/--maxShapes" if values else
                "Dimensions of this dynamic input")
        self.horizontalHeader().setStretchLastSection(True)

    def header(self, row: int) -> QTableWidgetItem:
        item = self.verticalHeaderItem(row)
        assert item is not None, "the rows' labels are set in __init__"
        return item

    def cell(self, row: int, column: int) -> QTableWidgetItem:
        item = self.item(row, column)
        assert item is not None, "ProfileEditor._add fills every cell"
        return item

    def texts(self) -> dict[tuple[str, bool, str], str]:
        return {(name, values, which): self.cell(row, column).text()
                for row, (name, values) in enumerate(self.rows) for column, which in enumerate(FIELDS)}


class ProfileEditor(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.tabs = QTabWidget()
        self.add_button = QPushButton("Add profile")
        self.duplicate_button = QPushButton("Duplicate")
        self.remove_button = QPushButton("Remove")
        self.jobs = JobControls(session, "Check against the model")
        self.check_button = self.jobs.run_button
        self.check_button.setToolTip("Run onnxruntime at every row's min and max shapes (other inputs at opt): "
                                     "catches sizes the model cannot take before any build")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.reasons = QLabel()  # where each suggested value came from
        self.reasons.setWordWrap(True)
        self.reasons.setTextInteractionFlags(self.reasons.textInteractionFlags()
                                             | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.check_result = QLabel()
        self.check_result.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.duplicate_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addWidget(self.jobs, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.check_result)
        layout.addWidget(self.reasons)
        self.add_button.clicked.connect(self._add_suggested)
        self.duplicate_button.clicked.connect(self._duplicate)
        self.remove_button.clicked.connect(self._remove)
        self.check_button.clicked.connect(self.check)
        session.model_changed.connect(self._load)
        session.report_changed.connect(self._report_changed)
        session.shapes_suggested.connect(self._shapes_suggested)
        self._loading = False
        self._suggested_texts: list[dict] | None = None  # the cells as last suggested, to see whether the user edited
        # The cells of a first guess not yet checked by any run: shown, but not written to the recipe, so the
        # trial build probes the model instead of taking the guess for the user's own profile.
        self._guess: list[dict] | None = None
        self._unchecked = False
        self.check_task = self.jobs.add_task(self, "profiles", on_done=self._checked, on_error=self._check_failed,
                                             on_cancelled=self._check_cancelled, errors_in_place=True)
        self.last_checks: list[RowCheck] = []
        self._checked_texts: list[dict] | None = None  # the cells the last check ran on
        self._checking: tuple = (None, [])  # the model and cells of the running check
        if session.model is not None:
            self._load()

    def _tables(self) -> list[_ProfileTable]:
        """One per tab, in the tabs' order."""
        return [table for index in range(self.tabs.count())
                if isinstance(table := self.tabs.widget(index), _ProfileTable)]

    def _inputs(self) -> list[TensorInfo]:
        return self.session.model.summary().inputs if self.session.model else []

    def _dynamic_inputs(self) -> list[TensorInfo]:
        return [t for t in self._inputs() if t.is_dynamic and t.shape is not None]

    def _shape_tensors(self) -> list[str]:
        report = self.session.report
        return list(report.shape_tensor_inputs) if report is not None and self.session.model is not None else []

    def _float_shape_tensors(self) -> dict[str, str]:
        """Float inputs TensorRT takes as shape tensors, with why no profile can give them values (see the Triage)."""
        inputs = {t.name: t for t in self._inputs()}
        return {name: f"{float_shape_tensor_text(name, inputs[name])}; {FREEZE_FLOAT_SHAPE_TENSOR}."
                for name in self._shape_tensors() if name in inputs and is_float(inputs[name])}

    def _needs_profile(self) -> bool:
        return bool(self._dynamic_inputs() or self._shape_tensors())

    def _load(self, _model: LoadedModel | None = None) -> None:
        """Show the recipe's profiles, or one suggested profile for a model with dynamic inputs."""
        self.check_task.abandon()  # a check of the previous tables says nothing about these
        self.tabs.clear()
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError as exc:
            self.session.log("warning", f"The recipe's profiles were not loaded: {exc.message}", "profiles")
            profiles = []
        self._suggested_texts = self._guess = None
        self.last_checks, self._checked_texts = [], None
        self.check_result.clear()
        self.reasons.clear()
        named = [(p, "") for p in profiles]
        if not profiles and self.session.model is not None and self._needs_profile():
            named = self._suggestion(suggest_shapes(self.session.model, probe=False))
        self._loading = True  # validate once, after the guess is known (a guess is not written to the recipe)
        for profile, workload in named:
            self._add(profile, workload=workload)
        self._loading = False
        if self._suggested_texts is not None:
            self._suggested_texts = self._all_texts()
            self._guess = self._suggested_texts if self._unchecked else None
        self._validate()
        self._restore_check()

    def _suggestion(self, suggestion: ShapeSuggestion) -> list[tuple[Profile, str]]:
        """The suggestion's profiles, named by workload (a decoder's prefill and decode); reasons under the table."""
        self._suggested_texts = []
        self._unchecked = suggestion.unchecked
        lines = suggestion.notes()
        self.reasons.setText("Suggested shapes:\n" + "\n".join(f"• {line}" for line in lines) if lines else "")
        return list(zip(suggestion.profiles(), [w.name for w in suggestion.workloads] or [""]))

    def _all_texts(self) -> list[dict]:
        return [table.texts() for table in self._tables()]

    def _shapes_suggested(self, suggestion: ShapeSuggestion) -> None:
        """The trial build probed the model: offer the probed shapes, unless the user has edited the cells."""
        if self.session.model is None or suggestion.inputs != self._inputs():
            return
        if self._suggested_texts is None or self._suggested_texts != self._all_texts():
            return  # the user's own profiles (or edits) win over any suggestion
        self.tabs.clear()
        for profile, workload in self._suggestion(suggestion):
            self._add(profile, workload=workload)
        self._suggested_texts, self._guess = self._all_texts(), None
        self._validate()
        self._restore_check()

    def _add_suggested(self) -> None:
        if self.session.model is not None:
            self._add(suggest_shapes(self.session.model, probe=False).profile())

    def check(self) -> Worker | None:
        """Run onnxruntime at every row's min and max in a worker; rows get ✓/✗ with the reason."""
        profiles, issues = self.profiles(), self.issues()
        if self.session.model is None or not profiles:
            return None
        if issues:
            self.check_result.setText("Fix the red cells first: only valid profiles can be checked.")
            return None
        self.check_result.setText("Checking the profiles under onnxruntime…")
        self._checking = (self.session.model, self._all_texts())
        return self.jobs.start(self.check_task, probe_profiles, self.session.model, profiles)

    def _checked(self, checks: list[RowCheck]) -> None:
        model, texts = self._checking
        self.session.keep(ResultKind.PROFILE_CHECK, ProfileCheck(checks, texts), model)
        self._show_checks(checks)

    def _restore_check(self) -> None:
        """Back to a checked model (undo, redo) with the cells the check ran on: its verdict, not a new run."""
        kept = self.session.kept(ResultKind.PROFILE_CHECK, ProfileCheck)
        if kept is not None and not self.last_checks and kept.texts == self._all_texts():
            self._show_checks(kept.rows)

    def _show_checks(self, checks: list[RowCheck]) -> None:
        self.last_checks = checks
        self._checked_texts = self._all_texts()
        for index, table in enumerate(self._tables()):
            for row, (name, values) in enumerate(table.rows):
                check = next((c for c in checks if c.profile == index and c.input == name), None)
                if check is None or values:
                    continue
                header = table.header(row)
                mark = CHECK_FAILED if not check.ok else CHECK_PASSED if check.checked else CHECK_NOT_RUN
                header.setText(f"{mark} {name}")
                header.setToolTip(check.text())
        failed = [c for c in checks if not c.ok]
        not_run = [c for c in checks if c.ok and not c.checked]
        if failed:
            text = f"{CHECK_FAILED} {len(failed)} row(s) fail under onnxruntime: " + " | ".join(
                f"Profile {c.profile + 1}: {c.text()}" for c in failed)
        elif not_run:
            text = (f"{CHECK_NOT_RUN} {len(not_run)} row(s) could not be run on this machine (not a failure of the "
                    "model; TensorRT may still build and run them): " + " | ".join(
                        f"Profile {c.profile + 1}: {c.text()}" for c in not_run))
        else:
            text = f"{CHECK_PASSED} Every row runs under onnxruntime at its min and max shapes."
        self.check_result.setText(text)
        self._validate()  # the strip's Profile stage follows the check

    def _check_failed(self, error: WorkbenchError) -> None:
        self.check_result.setText(f"The check could not run: {error.message}")

    def _check_cancelled(self) -> None:
        self.check_result.setText("The check was cancelled.")

    def _report_changed(self, _report: SupportReport | None = None) -> None:
        """The analysis found (other) shape tensors: rebuild the tables with their rows, keeping every cell's text."""
        model = self.session.model
        shown = {name for table in self._tables() for name, values in table.rows if values}
        if model is None or set(self._shape_tensors()) <= shown:
            return
        kept = self._all_texts()
        if not kept and self._needs_profile():
            kept = [{}]
        self.tabs.clear()
        for texts in kept:
            self._add(suggest_shapes(model, probe=False).profile(), texts)
        self._validate()

    def _rows(self, profile: Profile, texts: dict) -> list[Row]:
        rows: list[Row] = [(t.name, False) for t in self._dynamic_inputs()]
        rows += [(name, True) for name in self._shape_tensors()]
        # Entries the model does not need (e.g. misnamed) stay visible, marked invalid.
        rows += [(name, False) for name in profile.shapes] + [(name, True) for name in profile.values]
        rows += [(name, values) for name, values, _which in texts]
        return list(dict.fromkeys(rows))

    def _add(self, profile: Profile, texts: dict | None = None, workload: str = "") -> None:
        """A tab for ``profile`` (titled with its ``workload`` when it has one); ``texts`` (cell texts by
        input, values?, field) take precedence over it."""
        texts = texts or {}
        table = _ProfileTable(self._rows(profile, texts))
        floats = self._float_shape_tensors()
        loading, self._loading = self._loading, True
        for row, (name, values) in enumerate(table.rows):
            rng = (profile.values if values else profile.shapes).get(name)
            for column, which in enumerate(FIELDS):
                text = texts.get((name, values, which), format_shape_list({"": rng.get(which)})[1:] if rng else "")
                item = QTableWidgetItem(text)
                if values and name in floats:  # nothing typed here could be built: the row says why instead
                    item.setText("")
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                table.setItem(row, column, item)
            if values and name in floats:
                table.verticalHeaderItem(row).setToolTip(floats[name])
        self._loading = loading
        table.itemChanged.connect(lambda _item: self._validate())
        self.tabs.addTab(table, f"Profile {self.tabs.count() + 1}" + (f" — {workload}" if workload else ""))
        self.tabs.setCurrentWidget(table)
        self._validate()

    def _duplicate(self) -> None:
        table = self.tabs.currentWidget()
        if isinstance(table, _ProfileTable):
            self._add(Profile(), table.texts())

    def _remove(self) -> None:
        index = self.tabs.currentIndex()
        if index >= 0:
            self.tabs.removeTab(index)
            for i in range(self.tabs.count()):
                self.tabs.setTabText(i, f"Profile {i + 1}")
            self._validate()

    def _read(self) -> tuple[list[Profile], list[ProfileIssue]]:
        """The tables as profiles, plus issues for cells that are not shapes at all."""
        profiles: list[Profile] = []
        issues: list[ProfileIssue] = []
        floats = self._float_shape_tensors()  # their row's one issue comes from validate_profiles
        for index, table in enumerate(self._tables()):
            profile = Profile()
            for row, (name, values) in enumerate(table.rows):
                if values and name in floats:
                    continue
                label = f"Profile {index + 1}, {'values of ' if values else ''}'{name}'"
                shapes: dict[str, tuple[int, ...] | None] = {}
                for column, which in enumerate(FIELDS):
                    text = table.cell(row, column).text().strip()
                    try:
                        shapes[which] = parse_shape_list(f"{name}:{text}")[name] if text else None
                    except WorkbenchError:
                        # Said in the words the user types into the cell (not the name:dims syntax of the CLI).
                        what = "values" if values else "dimensions"
                        issues.append(ProfileIssue(
                            index, name, f"{label}: {which} '{text}' is not a list of {what}; type whole numbers "
                                         f"separated by x, e.g. {_example(name, self._inputs(), values)}.",
                            which, values=values))
                    if not text:
                        needed = f" (a shape tensor: give the values it will hold, e.g. " \
                                 f"{_example(name, self._inputs(), True)})" if values else ""
                        issues.append(ProfileIssue(index, name, f"{label}: {which} is empty{needed}.", which,
                                                   values=values))
                low, opt, high = (shapes.get(which) for which in FIELDS)
                if low is not None and opt is not None and high is not None:
                    (profile.values if values else profile.shapes)[name] = ShapeRange(low, opt, high)
            profiles.append(profile)
        return profiles, issues

    def profiles(self) -> list[Profile]:
        return self._read()[0]

    def issues(self) -> list[ProfileIssue]:
        profiles, issues = self._read()
        # A row whose cell cannot be read is not "missing": the cell's own fault is the one to show.
        unreadable = {(i.profile, i.input, i.values) for i in issues}
        return issues + [i for i in validate_profiles(profiles, self._inputs(), self._shape_tensors())
                         if (i.profile, i.input, i.values) not in unreadable]

    def _validate(self) -> None:
        if self._loading:
            return
        issues = self.issues()
        for index, table in enumerate(self._tables()):
            table.blockSignals(True)
            for row, (name, values) in enumerate(table.rows):
                for column, which in enumerate(FIELDS):
                    reasons = [i.message for i in issues if i.profile == index and i.input == name
                               and i.values == values and i.which in (which, "")]
                    item = table.cell(row, column)
                    item.setBackground(QBrush(INVALID) if reasons else QBrush())
                    item.setToolTip("\n".join(reasons))
            table.blockSignals(False)
        if issues:
            self.status.setText(f"⚠ {len(issues)} problem(s): {issues[0].message}")
        elif not self._needs_profile():
            self.status.setText("This model has no dynamic or shape-tensor inputs; profiles are optional.")
        else:
            self.status.setText(f"{self.tabs.count()} valid profile(s); they are saved with the recipe.")
        checked = self._checked_texts is not None and self._checked_texts == self._all_texts()
        if not checked and self.last_checks:
            # An edit after the check: its verdict is about other shapes.
            self.last_checks, self._checked_texts = [], None
            self.check_result.setText("Edited since the check: check against the model again.")
        if self.session.model is not None:
            # ✓ only when onnxruntime ran every row of these very profiles at min and max; valid cells alone prove
            # nothing about the model.
            if issues:
                self.session.set_stage("profile", "failed", self.status.text())
            elif not self._needs_profile():
                self.session.set_stage("profile", "ok", "no dynamic or shape-tensor inputs: no profile needed")
            elif checked:
                failed = [c for c in self.last_checks if not c.ok]
                proven = all(c.checked for c in self.last_checks)  # a row not run here proves nothing
                self.session.set_stage("profile", "failed" if failed else "ok" if proven else "none",
                                       self.check_result.text())
            else:
                self.session.set_stage("profile", "none", f"{self.status.text()} Not checked against the model yet "
                                                          "(Check against the model).")
        if not issues and (self._guess is None or self._guess != self._all_texts()):
            self.session.recipe.profiles = profiles_to_recipe(self.profiles())


def _example(name: str, inputs: list[TensorInfo], values: bool) -> str:
    """What a cell of ``name`` could hold: its declared shape with 1 for dynamic dims, or, for a shape tensor, as
    many values as it holds."""
    tensor = next((t for t in inputs if t.name == name), None)
    if tensor is None or tensor.shape is None:
        return "1x3x224x224"
    if values:
        count = tensor.shape[0] if tensor.shape and isinstance(tensor.shape[0], int) else 1
        return "x".join(["1"] * max(count, 1))
    return "x".join(str(d) if isinstance(d, int) and d > 0 else "1" for d in tensor.shape) or "1"
