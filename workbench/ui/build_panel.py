"""The Build panel: build settings, Build/Cancel with the builder's phases, engine summary, history.

The build runs through ``build_engine`` in a background task, which supervises a child process,
so the GUI thread only receives signals. Settings live in ``session.recipe.build``; options the
active backend lacks are disabled with the reason as tooltip.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout,
                               QWidget)

from workbench.core.build.engine import (HARDWARE_COMPATIBILITY, PRECISIONS, BuildHistory, BuildResult, BuildSettings,
                                         build_engine)
from workbench.core.build.commands import reproduction_commands
from workbench.core.backend import LogMessage
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.session import ResultKind
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.ui import palette
from workbench.ui.qt_items import disable_choice
from workbench.ui.session import Session
from workbench.ui.tables import keep_rows_in_view
from workbench.ui.job_controls import JobControls
from workbench.core.problems import ProblemKind

_HISTORY_COLUMNS = ("ok", "precision", "seconds", "engine_mb", "profiles", "problems", "changed")


class _LogRelay(QObject):
    """Carries builder log lines from the worker thread to the GUI thread."""

    message = Signal(object)


class BuildPanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.history = BuildHistory()
        self._building_for: LoadedModel | None = None  # the model the running (or last) build was started on
        self._shown_for: LoadedModel | None = None  # the model whose build result the panel shows
        self.jobs = JobControls(session, "Build", can_run=lambda: self.session.model is not None)
        self.build_button, self.cancel_button, self.progress = (self.jobs.run_button, self.jobs.cancel_button,
                                                                self.jobs.progress)
        # Failures also open the error dialog: the status line alone is easy to miss after a long build.
        self.build_task = self.jobs.add_task(self, "build", on_done=self._finished, on_error=self._failed,
                                             on_cancelled=self._cancelled, announce="Building the engine")
        self._relay = _LogRelay()
        self._relay.message.connect(self._show_log)
        unavailable = session.backend.unavailable_build_options()

        self.precision = QComboBox()
        for index, name in enumerate(PRECISIONS):
            self.precision.addItem(name.upper(), name)
            reason = unavailable.get(f"precision:{name}")
            if reason:
                disable_choice(self.precision, index, reason)
        self.workspace = QSpinBox()
        self.workspace.setRange(0, 1 << 20)
        self.workspace.setSuffix(" MiB")
        self.workspace.setSpecialValueText("default")
        self.opt_level = QComboBox()
        self.opt_level.addItem("default (3)", None)
        for level in range(6):
            self.opt_level.addItem(str(level), level)
        self.timing_cache = QLineEdit()
        self.timing_cache.setPlaceholderText("file to load and save")
        self.plugins = QListWidget()
        self.plugins.setMaximumHeight(50)
        self.add_plugin = QPushButton("Load plugin library…")
        self.hardware = QComboBox()
        for name in HARDWARE_COMPATIBILITY:
            self.hardware.addItem(name, name)
        self.version_compatible = QCheckBox("Version compatible")
        self.targets = QListWidget()
        self.targets.setMaximumHeight(70)
        for name in session.backend.compute_capability_targets():
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.targets.addItem(item)
        self.detailed = QCheckBox("Detailed profiling (lists the engine's layers)")
        # Not a build setting (not in the recipe): it is about this machine, not the engine.
        self.ignore_memory_check = QCheckBox("Ignore the memory check (build even if the estimate says it won't fit)")
        widgets_by_option: dict[str, list[QWidget]] = {
            "timing_cache": [self.timing_cache], "plugins": [self.plugins, self.add_plugin],
            "hardware_compatibility": [self.hardware], "version_compatible": [self.version_compatible],
            "compute_capabilities": [self.targets]}
        for name, widgets in widgets_by_option.items():
            for widget in widgets:
                if name in unavailable:
                    widget.setEnabled(False)
                    widget.setToolTip(unavailable[name])
        self.output = QLineEdit()
        self.output.setPlaceholderText("engine file")
        browse = QPushButton("…")
        browse.clicked.connect(self._choose_output)
        self.output.editingFinished.connect(self._update_commands)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output, 1)
        output_row.addWidget(browse)

        # Two columns of settings, in the first tab: with the results beside them in tabs, the whole panel fits a
        # 1280 × 800 window without scrolling (one long form pushed the results out of view).
        grid = QGridLayout()
        for row, pairs in enumerate(((("Precision", self.precision), ("Workspace limit", self.workspace)),
                                     (("Optimization level", self.opt_level), ("Timing cache", self.timing_cache)),
                                     (("Hardware\ncompatibility", self.hardware), ("", self.version_compatible)))):
            for column, (label, widget) in enumerate(pairs):
                grid.addWidget(QLabel(label), row, 2 * column)
                grid.addWidget(widget, row, 2 * column + 1)
                if isinstance(widget, QComboBox):  # as wide as the column allows, not as the longest choice
                    widget.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
                    widget.setMinimumContentsLength(6)
        plugins = QVBoxLayout()
        plugins.addWidget(self.plugins)
        plugins.addWidget(self.add_plugin)
        grid.addWidget(QLabel("Plugins"), 3, 0, Qt.AlignmentFlag.AlignTop)
        grid.addLayout(plugins, 3, 1)
        grid.addWidget(QLabel("Compute\ncapabilities"), 3, 2, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(self.targets, 3, 3)
        grid.addWidget(self.detailed, 4, 0, 1, 4)
        grid.addWidget(self.ignore_memory_check, 5, 0, 1, 4)
        grid.addWidget(QLabel("Engine file"), 6, 0)
        grid.addLayout(output_row, 6, 1, 1, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        grid.setRowStretch(7, 1)
        settings_page = QWidget()
        settings_page.setLayout(grid)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Builds work here (TensorRT-RTX builds ahead of time on the CPU); running the engine may not: say so up front.
        blocker = session.backend.engine_support().blocker
        self.runs_here = QLabel(f"Engines built here cannot run on this machine: {blocker} Build for the target GPU "
                                "and compare there." if blocker else "")
        self.runs_here.setWordWrap(True)
        self.runs_here.setVisible(bool(blocker))
        self.runs_here.setStyleSheet(f"color: {palette.NOTE};")

        self.summary = QPlainTextEdit(readOnly=True)
        self.log_view = QPlainTextEdit(readOnly=True)
        self.log_view.setMaximumBlockCount(5000)
        self.commands = QPlainTextEdit(readOnly=True)
        self.history_table = QTableWidget(0, len(_HISTORY_COLUMNS))
        self.history_table.setHorizontalHeaderLabels(list(_HISTORY_COLUMNS))
        self.history_table.horizontalHeader().setStretchLastSection(True)
        keep_rows_in_view(self.history_table)
        self.results = QTabWidget()
        self.results.addTab(settings_page, "Settings")
        self.results.addTab(self.summary, "Engine")
        self.results.addTab(self.log_view, "Log")
        self.results.addTab(self.history_table, "History")
        self.results.addTab(self.commands, "Commands")

        layout = QVBoxLayout(self)
        layout.addWidget(self.jobs)
        layout.addWidget(self.runs_here)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)

        self._load_settings()
        for signal in (self.precision.currentIndexChanged, self.workspace.valueChanged,
                       self.opt_level.currentIndexChanged, self.timing_cache.editingFinished,
                       self.hardware.currentIndexChanged, self.version_compatible.toggled,
                       self.targets.itemChanged, self.detailed.toggled):
            signal.connect(self._store_settings)
        self.add_plugin.clicked.connect(self._choose_plugin)
        self.build_button.clicked.connect(self.start_build)
        session.model_changed.connect(self._model_changed)
        self._model_changed()

    # settings <-> widgets <-> recipe
    def settings(self) -> BuildSettings:
        targets = [self.targets.item(i).text() for i in range(self.targets.count())
                   if self.targets.item(i).checkState() == Qt.CheckState.Checked]
        return BuildSettings(
            precision=self.precision.currentData(), workspace_mb=self.workspace.value() or None,
            optimization_level=self.opt_level.currentData(), timing_cache=self.timing_cache.text().strip(),
            plugins=[self.plugins.item(i).text() for i in range(self.plugins.count())],
            hardware_compatibility=self.hardware.currentData(), version_compatible=self.version_compatible.isChecked(),
            compute_capabilities=targets, detailed_profiling=self.detailed.isChecked())

    def _load_settings(self) -> None:
        try:
            settings = BuildSettings.from_dict(self.session.recipe.build)
        except WorkbenchError as exc:
            self.session.log("warning", f"The recipe's build settings were not loaded: {exc.message}", "build")
            settings = BuildSettings()
        self.precision.setCurrentIndex(max(self.precision.findData(settings.precision), 0))
        self.workspace.setValue(settings.workspace_mb or 0)
        self.opt_level.setCurrentIndex(max(self.opt_level.findData(settings.optimization_level), 0))
        self.timing_cache.setText(settings.timing_cache)
        self.plugins.clear()
        self.plugins.addItems(settings.plugins)
        self.hardware.setCurrentIndex(max(self.hardware.findData(settings.hardware_compatibility), 0))
        self.version_compatible.setChecked(settings.version_compatible)
        for i in range(self.targets.count()):
            item = self.targets.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in settings.compute_capabilities
                               else Qt.CheckState.Unchecked)
        self.detailed.setChecked(settings.detailed_profiling)

    def _store_settings(self, *_args: object) -> None:
        self.session.recipe.build = self.settings().to_dict()
        self._update_commands()

    def _model_changed(self, _model: LoadedModel | None = None) -> None:
        model = self.session.model
        self.jobs.refresh()
        kept = self.session.kept(ResultKind.BUILD, BuildResult)
        if self.build_task.running:  # its outcome (or its "earlier model" note) comes when it ends
            pass
        elif kept is not None:  # back to a model built before (undo, redo): its build, not a new one
            self._shown_for = model
            self._show_result(kept)
        elif model is not self._shown_for:
            # An engine of another model (or an earlier step) says nothing about this one.
            self._shown_for = None
            self.status.setText("No engine built from this model yet." if model is not None else "")
            self.status.setStyleSheet("")
            self.summary.clear()
        if model is not None and model.path is not None:
            self.output.setText(str(Path(model.path).with_suffix(".engine")))
        self._load_settings()
        self._update_commands()

    def _update_commands(self) -> None:
        model = self.session.model
        if model is None:
            return
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError:
            profiles = []
        commands = reproduction_commands(str(model.path or model.name), self.output.text() or "model.engine",
                                         self.settings(), profiles, self.session.backend)
        self.commands.setPlainText("\n\n".join(f"# {name}\n{text}" for name, text in commands.items()))

    def _choose_output(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Engine file", self.output.text(), "Engines (*.engine *.plan)")
        if path:
            self.output.setText(path)
            self._update_commands()

    def _choose_plugin(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Plugin library", "", "Shared libraries (*.so *.dll)")
        if not path:
            return
        answer = QMessageBox.warning(self, "Load plugin library?",
                                     f"Loading {Path(path).name} runs its native code inside the build process. "
                                     "Only load libraries you trust.",
                                     QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Ok:
            self.plugins.addItem(path)
            self._store_settings()

    # building
    def start_build(self) -> None:
        model = self.session.model
        if model is None or self.build_task.running:
            return
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError as exc:
            self._failed(exc)
            self.session.report_error(exc, "build")
            return
        self._update_commands()  # the profiles may have changed in the profile editor
        self.log_view.clear()
        self.results.setCurrentWidget(self.log_view)  # the builder's messages while it builds
        self.status.setText("Building…")
        self.status.setStyleSheet("")
        self._building_for = model
        self.jobs.start(self.build_task, build_engine, model, self.settings(), profiles,
                        self.output.text().strip() or None, backend=self.session.backend,
                        log_sink=self._relay.message.emit, check_memory=not self.ignore_memory_check.isChecked())
        self.session.set_stage("engine", "running", "building the engine")

    def _show_log(self, message: LogMessage) -> None:
        self.log_view.appendPlainText(f"[{message.severity}] {message.text}")
        self.session.log_message.emit(message)

    def _finished(self, result: BuildResult) -> None:
        self.history.add(result)
        self._fill_history()
        # Kept with its model even when that is an earlier step now: an undo back to it shows this build.
        self.session.keep(ResultKind.BUILD, result, self._building_for)
        if self._building_for is not self.session.model:
            # The model changed while it built: the engine is listed in the history, but it is not this model's.
            outcome = "engine written" if result.succeeded else "failed"
            self.status.setText(f"The build of an earlier model finished ({outcome}); it is in the build history, "
                                "not this model's result.")
            self.status.setStyleSheet("color: #666;")
            return
        self._shown_for = self._building_for
        self.session.set_problems("build", result.problems)
        self.session.set_stage("builds", "ok" if result.succeeded else "failed",
                               "the engine build " + ("succeeded" if result.succeeded else "failed"))
        self._show_result(result)
        if result.succeeded:
            self.session.set_stage("engine", "ok", f"built {result.engine_path or '(not saved)'}")
            self.results.setCurrentWidget(self.summary)
        else:
            self.session.set_stage("engine", "failed", self.status.text())
            if any(p.kind in (ProblemKind.NO_PROFILE, ProblemKind.MISSING_SHAPE_VALUES) for p in result.problems):
                self.session.panel_requested.emit("profiles")

    def _show_result(self, result: BuildResult) -> None:
        """The build's outcome in the panel; the engine goes to the Compare panel (``engine_built``)."""
        if result.succeeded:
            self.status.setText(f"✔ Built {result.engine_path or '(not saved)'} in {result.build_seconds:.2f} s.")
            self.status.setStyleSheet("")
            self.summary.setPlainText(result.describe(list_layers=True))
            self.session.engine_built.emit(result)
        else:
            self.status.setText("✖ The build failed: " + "; ".join(p.message for p in result.problems[:2]))
            self.status.setStyleSheet("color: #a00;")
            self.summary.clear()

    def _failed(self, error: WorkbenchError) -> None:
        self.status.setText(f"✖ {error.message} {error.hint}")
        self.status.setStyleSheet("color: #a00;")
        self.session.set_stage("engine", "failed", error.message)

    def _cancelled(self) -> None:
        self.status.setText("The build was cancelled; no engine file was written.")
        self.session.set_stage("engine", "none", "the last build was cancelled")

    def _fill_history(self) -> None:
        rows = self.history.rows()
        self.history_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, key in enumerate(_HISTORY_COLUMNS):
                value = row[key]
                self.history_table.setItem(r, c, QTableWidgetItem("✔" if value is True else "✖" if value is False
                                                                  else str(value)))

