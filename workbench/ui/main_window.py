"""The main window: menus, toolbar and status strip, docks built from ``PANELS``, opening models, errors.

Layout: the first start fills most of the screen the window opens on, with the graph (and the
Profiles/Build/Compare panels tabbed with it) on the right, Triage on the left and the log at the
bottom. The user's arrangement is saved in QSettings on close; *View → Reset layout* brings the
default back.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from pathlib import Path

import onnx
import onnxruntime
from PySide6.QtCore import QSettings, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QLabel, QMainWindow, QMenu, QMessageBox,
                               QProgressBar, QScrollArea, QStyle, QToolBar, QToolButton, QWidget)

from workbench import __version__
from workbench.core.errors import WorkbenchError
from workbench.core.isolation.child_process import ChildProcess
from workbench.core.model.loading import LoadedModel, save_model
from workbench.core.progress import CancelToken, ProgressFn
from workbench.core.recipe import save_recipe
from workbench.ui.error_dialog import error_box
from workbench.ui.loader import ModelLoader
from workbench.ui.panels import PANELS
from workbench.ui.repair_dialog import RepairMenu
from workbench.ui.session import Session
from workbench.ui.status_strip import StatusStrip
from workbench.ui.tasks import Task
from workbench.ui.trial_build_runner import TrialBuildRunner
from workbench.ui.worker import Worker

MAX_RECENT = 10
_AREAS = {"left": Qt.DockWidgetArea.LeftDockWidgetArea, "right": Qt.DockWidgetArea.RightDockWidgetArea,
          "bottom": Qt.DockWidgetArea.BottomDockWidgetArea, "top": Qt.DockWidgetArea.TopDockWidgetArea}
MODEL_FILTER = "ONNX models (*.onnx);;All files (*)"
# Saved window states carry this version; a state saved for an older dock arrangement is not restored.
LAYOUT_VERSION = 3  # 3: the status strip has its own toolbar
SCREEN_FRACTION = 0.92  # of the available screen, on the first start
LEFT_FRACTION, BOTTOM_FRACTION = 0.36, 0.10  # default dock sizes (of the window's width / height)


def load_panel_class(import_path: str) -> Callable[[Session, QWidget], QWidget]:
    module_name, _, class_name = import_path.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


class MainWindow(QMainWindow):
    def __init__(self, session: Session, child: ChildProcess, settings: QSettings | None = None,
                 backend_choice: str = "auto") -> None:
        super().__init__()
        self.session = session
        self.settings = settings or QSettings("TensorRT Workbench", "trt-workbench")
        self.loader = ModelLoader(session, child, backend_choice, self)
        self.docks: dict[str, QDockWidget] = {}
        self.panels: dict[str, QWidget] = {}
        self.last_error: WorkbenchError | None = None
        self.last_error_box: QMessageBox | None = None
        self.file_dialog: QFileDialog | None = None
        self.save_task = Task(self, session, "app", on_done=self._model_saved)

        self.setWindowTitle("TensorRT Workbench")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
                            | QMainWindow.DockOption.AllowNestedDocks)
        self._build_menus()
        self._build_docks()
        self.trial_build = TrialBuildRunner(session, self.settings, self)  # after each analysis
        self.repair = RepairMenu(self, self.trial_build)
        self._build_toolbar()
        self._build_status_bar()
        self._restore_layout()

        session.model_changed.connect(self._on_model_changed)
        session.busy_changed.connect(self._on_busy)
        session.panel_requested.connect(self.show_panel)
        session.error_reported.connect(self._on_error_reported)
        self.loader.progress.connect(self.busy_label.setText)

    # Construction ------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = file_menu.addAction(self._icon(QStyle.StandardPixmap.SP_DialogOpenButton), "&Open…",
                                               QKeySequence.StandardKey.Open, self.open_dialog)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._refresh_recent_menu()
        file_menu.addSeparator()
        self.save_model_action = file_menu.addAction("&Save model as…", QKeySequence.StandardKey.SaveAs,
                                                     self.save_model_dialog)
        self.save_recipe_action = file_menu.addAction("Save &recipe…", self.save_recipe_dialog)
        self.save_model_action.setEnabled(False)
        self.save_recipe_action.setEnabled(False)
        file_menu.addSeparator()
        file_menu.addAction("&Quit", QKeySequence.StandardKey.Quit, self.close)
        self.view_menu = self.menuBar().addMenu("&View")
        self.previous_action = self.view_menu.addAction(
            self._icon(QStyle.StandardPixmap.SP_ArrowUp), "&Previous problem", QKeySequence("Shift+F8"),
            lambda: self._call_panel("triage", "step", -1))
        self.next_action = self.view_menu.addAction(
            self._icon(QStyle.StandardPixmap.SP_ArrowDown), "&Next problem", QKeySequence("F8"),
            lambda: self._call_panel("triage", "step", +1))
        self.view_menu.addAction("&Reset layout", self.reset_layout)
        self.view_menu.addSeparator()
        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addAction("&About TensorRT Workbench", self.show_about)

    def _icon(self, pixmap: QStyle.StandardPixmap) -> QIcon:
        return self.style().standardIcon(pixmap)

    def _build_toolbar(self) -> None:
        """The main actions with icons and shortcuts, then where the model stands (the status strip)."""
        run_menu = QMenu("&Run", self.menuBar())
        self.menuBar().insertMenu(self.help_menu.menuAction(), run_menu)
        self.analyse_action = run_menu.addAction(
            self._icon(QStyle.StandardPixmap.SP_BrowserReload), "&Analyse again", QKeySequence("F5"), self.analyse)
        self.build_action = run_menu.addAction(
            self._icon(QStyle.StandardPixmap.SP_MediaPlay), "&Build engine", QKeySequence("Ctrl+B"), self.build)
        self.compare_action = run_menu.addAction(
            self._icon(QStyle.StandardPixmap.SP_FileDialogContentsView), "&Compare with onnxruntime",
            QKeySequence("Ctrl+Shift+C"), self.compare)
        repair = self.repair.find_action
        repair.setIcon(self._icon(QStyle.StandardPixmap.SP_DialogResetButton))
        repair.setShortcut(QKeySequence("Ctrl+R"))
        for action in (self.analyse_action, self.build_action, self.compare_action):
            action.setEnabled(False)  # until a model is open
        toolbar = QToolBar("Main toolbar", self)
        toolbar.setObjectName("main-toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(18, 18))
        for action, text in ((self.open_action, "Open"), (self.analyse_action, "Analyse"), (repair, "Repair"),
                             (self.build_action, "Build"), (self.compare_action, "Compare")):
            action.setIconText(text)  # the toolbar's label; menus keep the longer text
            action.setToolTip(f"{action.text().replace('&', '')} ({action.shortcut().toString()})")
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.previous_action)
        toolbar.addAction(self.next_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self.toolbar = toolbar
        # The strip has a toolbar of its own: beside the actions when both fit, on its own row when not (in one
        # toolbar it went behind the "»" overflow menu in a 1280 px window).
        self.strip_toolbar = QToolBar("Status", self)
        self.strip_toolbar.setObjectName("status-toolbar")
        self.status_strip = StatusStrip(self.session, self.loader, self.strip_toolbar)
        self.strip_toolbar.addWidget(self.status_strip)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.strip_toolbar)

    def analyse(self) -> None:
        if self.session.model is not None:
            self.loader.analyse(self.session.model)

    def build(self) -> None:
        self.show_panel("build")
        self._call_panel("build", "start_build")

    def compare(self) -> None:
        self.show_panel("compare")
        self._call_panel("compare", "run_comparison")

    def _call_panel(self, object_name: str, method: str, *args: object) -> None:
        """A panel's action, when the panel has it: one that failed to load is a label in its place."""
        action = getattr(self.panels.get(object_name), method, None)
        if action is not None:
            action(*args)

    def _build_docks(self) -> None:
        for object_name, title, import_path, _area in PANELS:
            dock = QDockWidget(title, self)
            dock.setObjectName(object_name)
            try:
                panel = load_panel_class(import_path)(self.session, dock)
            except Exception as exc:  # one broken panel must not take the window down with it
                panel = QLabel(f"The {title} panel failed to load:\n{type(exc).__name__}: {exc}")
                panel.setWordWrap(True)
                self.session.log("error", f"Panel {title} failed to load:\n{traceback.format_exc()}")
            # Panels with many controls (Build, Compare) are taller than a laptop screen allows next to
            # the others; in a scroll area a dock can be smaller than its panel instead of forcing the
            # window past the screen.
            scroller = QScrollArea(dock)
            scroller.setWidgetResizable(True)
            scroller.setFrameShape(QFrame.Shape.NoFrame)
            scroller.setWidget(panel)
            dock.setWidget(scroller)
            self.view_menu.addAction(dock.toggleViewAction())
            self.docks[object_name] = dock
            self.panels[object_name] = panel
        self._place_docks()

    def _place_docks(self) -> None:
        """The default arrangement: each dock in its area, tabbed with the first one there, which is raised."""
        first_in_area: dict[str, QDockWidget] = {}
        for object_name, _title, _import_path, area in PANELS:
            dock = self.docks[object_name]
            dock.setFloating(False)
            self.addDockWidget(_AREAS.get(area, Qt.DockWidgetArea.RightDockWidgetArea), dock)
            dock.show()
            if area in first_in_area:
                self.tabifyDockWidget(first_in_area[area], dock)
            else:
                first_in_area[area] = dock
        for dock in first_in_area.values():
            dock.raise_()
        self._first_in_area = first_in_area

    def _default_sizes(self) -> None:
        # Docks only take sizes once the window has its own, hence from the first show.
        docks = self._first_in_area
        if "left" in docks:
            self.resizeDocks([docks["left"]], [int(self.width() * LEFT_FRACTION)], Qt.Orientation.Horizontal)
        if "bottom" in docks:
            bottom = docks["bottom"]
            # At least the bottom panel's own minimum (a short window would squeeze it into scrolling).
            frame = bottom.height() - bottom.widget().height()
            height = max(int(self.height() * BOTTOM_FRACTION),
                         self.panels[bottom.objectName()].minimumSizeHint().height() + frame)
            upper = [dock for area, dock in docks.items() if area != "bottom"]
            # In pixels of the docks' own height (sizes adding up to more than there is are scaled down).
            total = bottom.height() + max(dock.height() for dock in upper)
            self.resizeDocks(upper + [bottom], [total - height] * len(upper) + [height], Qt.Orientation.Vertical)

    def reset_layout(self) -> None:
        """Back to the default arrangement and size on the current screen; the saved layout is forgotten."""
        self.settings.remove("window/state")
        self.settings.remove("window/geometry")
        for toolbar in (self.toolbar, self.strip_toolbar):
            toolbar.show()
            self.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
        self._place_docks()
        self._fit_to_screen()
        QTimer.singleShot(0, self._default_sizes)

    def _fit_to_screen(self) -> None:
        """Most of the screen the window is on (or opens on), centred on it."""
        screen = self.screen().availableGeometry()
        size = QSize(int(screen.width() * SCREEN_FRACTION), int(screen.height() * SCREEN_FRACTION))
        self.resize(size)
        self.move(screen.center() - self.rect().center())

    def _build_status_bar(self) -> None:
        info = self.session.backend.info()
        engines = "engines can run here" if info.can_run_engines else "engines cannot run here (no usable GPU)"
        backend_label = QLabel(f"{info.name} {info.version} · {engines}")
        backend_label.setToolTip(info.reason)
        self.busy_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setMaximumSize(120, 14)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setRange(0, 0)  # indeterminate
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.loader.cancel)
        bar = self.statusBar()
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.busy_label)
        bar.addWidget(self.cancel_button)
        bar.addPermanentWidget(backend_label)
        self._on_busy(False, "")

    def _restore_layout(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self._fit_to_screen()
        state = self.settings.value("window/state")
        self._layout_restored = state is not None and self.restoreState(state, LAYOUT_VERSION)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._wrap_toolbars()

    def _wrap_toolbars(self) -> None:
        """The status strip on its own row when it and the actions do not fit side by side (it is never hidden)."""
        if self.toolBarArea(self.strip_toolbar) != self.toolBarArea(self.toolbar):
            return  # the user moved one of them: their arrangement stands
        wrap = self.toolbar.sizeHint().width() + self.strip_toolbar.sizeHint().width() > self.width()
        if wrap and not self.toolBarBreak(self.strip_toolbar):
            self.insertToolBarBreak(self.strip_toolbar)
        elif not wrap and self.toolBarBreak(self.strip_toolbar):
            self.removeToolBarBreak(self.strip_toolbar)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._layout_restored:
            self._layout_restored = True
            QTimer.singleShot(0, self._default_sizes)

    # Opening -----------------------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> None:
        path = Path(path).expanduser()
        self.session.log("info", f"Opening {path}")
        self._remember(path)
        self.loader.open(path)

    def open_dialog(self) -> QFileDialog:
        start_dir = str(self.session.model.base_dir) if self.session.model and self.session.model.base_dir else ""
        return self._ask_path("Open ONNX model", start_dir, QFileDialog.AcceptMode.AcceptOpen, self.open_path)

    def _ask_path(self, title: str, start: str, mode: QFileDialog.AcceptMode, on_selected: Callable[[str], object],
                  name_filter: str = MODEL_FILTER,
                  suffix: str = "onnx") -> QFileDialog:
        # Qt's own dialog, opened asynchronously: the same on every desktop, and drivable in tests.
        dialog = QFileDialog(self, title, start, name_filter)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
        dialog.setAcceptMode(mode)
        dialog.setDefaultSuffix(suffix)
        if mode == QFileDialog.AcceptMode.AcceptOpen:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        else:
            # Overwriting is confirmed by us (and never silently for the original model).
            dialog.setOption(QFileDialog.Option.DontConfirmOverwrite)
        dialog.fileSelected.connect(on_selected)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.file_dialog = dialog
        return dialog

    def recent_files(self) -> list[str]:
        recent = self.settings.value("recent", [], list)
        return [str(p) for p in recent] if isinstance(recent, list) else []

    def _remember(self, path: Path) -> None:
        entry = str(path.resolve())
        recent = [entry] + [p for p in self.recent_files() if p != entry]
        self.settings.setValue("recent", recent[:MAX_RECENT])
        self._refresh_recent_menu()

    def _refresh_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])
            if len(files) > 1:
                self.session.log("warning", f"Dropped {len(files)} files; opened only {Path(files[0]).name}.")

    # Saving ------------------------------------------------------------------------------------------
    def save_model_dialog(self) -> QFileDialog:
        model = self.session.model
        start_dir = str(model.path.with_name(f"{model.path.stem}-fixed.onnx")) if model and model.path else ""
        return self._ask_path("Save model as", start_dir, QFileDialog.AcceptMode.AcceptSave, self.save_model_to)

    def save_model_to(self, destination: str | Path) -> Worker | None:
        model, original = self.session.model, self.session.original
        destination = Path(destination).expanduser().resolve()
        protect = original.path if original is not None else None
        if protect is not None and destination == protect.resolve():
            answer = QMessageBox.warning(
                self, "Overwrite the original model?",
                f"{destination.name} is the model you opened. Overwriting it replaces the original for good.",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Save:
                self.session.log("info", "Save cancelled: the original model was not overwritten.")
                return None
            protect = None
        return self.save_task.start(_save_model, model, destination, protect)

    def _model_saved(self, path: Path) -> None:
        self._saved(f"Saved model to {path}")

    def save_recipe_dialog(self) -> QFileDialog:
        return self._ask_path("Save recipe", "", QFileDialog.AcceptMode.AcceptSave, self.save_recipe_to,
                              "Recipes (*.toml);;All files (*)", "toml")

    def save_recipe_to(self, destination: str | Path) -> None:
        try:
            path = save_recipe(self.session.recipe, destination)
        except WorkbenchError as exc:
            self.show_error(exc)
        except OSError as exc:
            self.show_error(WorkbenchError(f"Could not write the recipe: {exc.strerror}.",
                                           "Check the folder exists and is writable.", str(exc)))
        else:
            self._saved(f"Saved recipe to {path}")

    def _saved(self, text: str) -> None:
        self.session.log("info", text)
        self.statusBar().showMessage(text, 8000)

    # Reactions ---------------------------------------------------------------------------------------
    def _on_model_changed(self, model: LoadedModel) -> None:
        # A fixed model has no file of its own yet: the title keeps the opened file's name and says it changed.
        original = self.session.original
        name = original.name if original is not None else model.name
        modified = " • modified" if original is not None and model is not original else ""
        self.setWindowTitle(f"{name}{modified} — TensorRT Workbench")
        for action in (self.save_model_action, self.save_recipe_action, self.analyse_action, self.build_action,
                       self.compare_action):
            action.setEnabled(True)

    def _on_busy(self, busy: bool, what: str) -> None:
        self.busy_bar.setVisible(busy)
        # The status bar's Cancel stops opening/analysing a model; a panel's job has its own Cancel beside it.
        self.cancel_button.setVisible(busy and self.loader.busy)
        self.busy_label.setText(what if busy else "")

    def show_panel(self, object_name: str) -> None:
        dock = self.docks.get(object_name)
        if dock is None:
            self.session.log("warning", f"There is no '{object_name}' panel in this window.")
            return
        dock.show()
        dock.raise_()

    def show_error(self, error: WorkbenchError) -> QMessageBox | None:
        """Report ``error`` to the session's error sink: the Log panel and the error dialog."""
        self.session.report_error(error)
        return self.last_error_box

    def _on_error_reported(self, error: WorkbenchError, shown_in_place: bool) -> None:
        if not shown_in_place:
            self.last_error = error
            self.last_error_box = error_box(self, error)

    def show_about(self) -> QMessageBox:
        info = self.session.backend.info()
        box = QMessageBox(QMessageBox.Icon.Information, "About TensorRT Workbench",
                          f"<b>TensorRT Workbench {__version__}</b>", QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(
            f"Backend: {info.name} {info.version} (ONNX parser {info.parser_version or '-'})<br>"
            f"onnx {onnx.__version__} · onnxruntime {onnxruntime.__version__}<br>"
            f"GPU: {info.gpu.get('name') or 'none'}<br>{info.reason}")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(LAYOUT_VERSION))
        self.loader.cancel()
        self.trial_build.cancel()
        for panel in self.panels.values():
            if hasattr(panel, "shutdown"):
                panel.shutdown()
        super().closeEvent(event)


def _save_model(model: LoadedModel, destination: Path, protect: Path | None, progress: ProgressFn,
                cancel: CancelToken) -> Path:
    return save_model(model.proto, destination, protect=protect, weights_dir=model.weights_dir, progress=progress)
