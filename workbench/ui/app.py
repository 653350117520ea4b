"""Application start-up: ``run_app(argv)`` is what ``trt-workbench [MODEL]`` runs."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import __version__
from workbench.core.backend import BACKEND_CHOICES
from workbench.resources import DEFAULT_SAMPLE, ICON, model_path, sample_names

if TYPE_CHECKING:  # Qt and the window are imported when a window is made, not for --help or the desktop entry
    from PySide6.QtCore import QCoreApplication, QSettings

    from workbench.ui.main_window import MainWindow
    from workbench.ui.screenshot import ScreenshotJob


def prepare_qt() -> None:
    """Before any QApplication: QtWebEngine's import and Chromium's flags."""
    prepare_webengine_environment()


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="trt-workbench", description="TensorRT Workbench: the window.")
    parser.add_argument("model", nargs="?", type=model_path,
                        help=f"ONNX model to open, or a bundled sample's name ({', '.join(sample_names())}; "
                             f"default: {DEFAULT_SAMPLE.stem})")
    parser.add_argument("--backend", choices=BACKEND_CHOICES, default="auto", help="TensorRT flavour (default: auto)")
    parser.add_argument("--register-desktop", action="store_true",
                        help="install the .desktop entry, icon and ONNX MIME type for this user, then exit")
    parser.add_argument("--unregister-desktop", action="store_true", help="remove what --register-desktop installed")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="open the window on MODEL with the default layout, wait until the analysis, trial build "
                             "and graph marks are done, save a PNG of the whole window and exit (0; 2 with the reason)")
    parser.add_argument("--size", type=window_size, default=None, metavar="WIDTHxHEIGHT",
                        help="the window's size in pixels, e.g. 1280x800 (default: most of the screen)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="with --screenshot: give up after this long (default: 180)")
    return parser.parse_args(argv)


def window_size(text: str) -> tuple[int, int]:
    """``1280x800`` → (1280, 800); anything else is argparse's usage error, in the words typed."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"'{text}' is not a window size; write WIDTHxHEIGHT, e.g. 1280x800")
    return int(width), int(height)


def prepare_webengine_environment() -> None:
    """Chromium refuses to run as root without --no-sandbox; GPU compositing is off for Xvfb/VMs.

    Must run before the QApplication exists.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "QTWEBENGINE_CHROMIUM_FLAGS" not in os.environ:
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = "--no-sandbox --disable-gpu"
    try:  # QtWebEngine must be imported before the QApplication is created
        import PySide6.QtWebEngineWidgets  # noqa: F401
    except ImportError:
        pass  # the graph panel explains and offers the browser instead


def build_window(backend_choice: str = "auto", settings: QSettings | None = None) -> MainWindow:
    """Runtime, session, analysis child and main window, ready to show (the QApplication must exist). The window
    owns the runtime: closing the window closes it, which stops every child process."""
    from workbench.core.analysis.background import analysis_child
    from workbench.core.runtime import Runtime
    from workbench.ui.main_window import MainWindow
    from workbench.ui.session import Session

    runtime = Runtime().activate()
    child = runtime.child_process(f"analysis:{backend_choice}", lambda: analysis_child(backend_choice))
    child.start()  # warms up (imports TensorRT) while the window builds
    session = Session(runtime.backend(backend_choice))
    window = MainWindow(session, child, settings=settings, backend_choice=backend_choice)
    window.destroyed.connect(runtime.close)
    return window


def start_window(args: argparse.Namespace, settings: QSettings | None = None) -> MainWindow:
    """The shown main window, opening ``args.model`` (or the bundled sample)."""
    from workbench.ui.startup_times import times_requested

    window = build_window(args.backend, settings)
    if times_requested():
        report_startup_times(window)
    if args.size:
        window.resize(*args.size)
    window.show()
    window.open_path(args.model or DEFAULT_SAMPLE)
    if not args.model:  # say it: a user who started the app without a file should not take this for theirs
        message = f"No model given: opened the bundled sample {DEFAULT_SAMPLE.name} (File → Open for yours)."
        window.session.log("info", message)
        window.statusBar().showMessage(message, 15000)
    return window


SETTLED_POLL_MS = 10


def report_startup_times(window: MainWindow) -> None:
    """For ``benchmarks/bench_window.py``: print the times of the window's first paint, of the first analysis
    reaching every panel, and of the first moment nothing is pending (analysis, trial build, graph marks)."""
    from PySide6.QtCore import QTimer

    from workbench.ui.screenshot import pending_work
    from workbench.ui.startup_times import ANALYSIS_SHOWN, SETTLED, FirstPaintReport, report_time

    FirstPaintReport(window)

    def analysis_shown() -> None:  # connected after the panels: they have shown the report when this runs
        window.session.report_changed.disconnect(analysis_shown)
        report_time(ANALYSIS_SHOWN)

    def check_settled() -> None:
        if not pending_work(window):
            poll.stop()
            report_time(SETTLED)

    window.session.report_changed.connect(analysis_shown)
    poll = QTimer(window, interval=SETTLED_POLL_MS)
    poll.timeout.connect(check_settled)
    poll.start()


GC_YOUNG_MS, GC_FULL_EVERY = 2000, 15  # young generations every 2 s, everything every 30 s


def collect_garbage_on_the_gui_thread(app: QCoreApplication) -> None:
    """Python's collector runs on whichever thread allocates when a threshold is crossed; freeing a closed dialog's
    reference cycle on a worker thread destroys Qt widgets there, which can deadlock against the GUI thread (seen:
    a QMenu's destructor waiting for the GIL while the GUI thread waited for Qt's object lock). So automatic
    collection is off and the GUI thread collects on a timer."""
    import gc

    from PySide6.QtCore import QTimer

    gc.disable()
    ticks = [0]

    def collect() -> None:
        ticks[0] += 1
        gc.collect() if ticks[0] % GC_FULL_EVERY == 0 else gc.collect(1)

    timer = QTimer(app, interval=GC_YOUNG_MS)
    timer.timeout.connect(collect)
    timer.start()


def run_app(argv: list[str]) -> int:
    args = parse_arguments(argv)
    if args.register_desktop or args.unregister_desktop:
        from workbench import desktop

        for line in (desktop.register() if args.register_desktop else desktop.unregister()):
            print(line)
        return 0

    if args.screenshot:
        from workbench.ui.screenshot import display_problem

        problem = display_problem()
        if problem:  # Qt would abort on its own without a display; say why instead
            print(f"error: cannot take a screenshot: {problem}", file=sys.stderr)
            return 2
    prepare_qt()
    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from workbench.core.errors import WorkbenchError
    from workbench.ui.error_dialog import ExceptionHook, error_box

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    collect_garbage_on_the_gui_thread(app)
    app.setApplicationName("TensorRT Workbench")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("trt-workbench")
    app.setWindowIcon(QIcon(str(ICON)))
    # A screenshot uses the default layout in throwaway settings: the user's own stay untouched.
    scratch = tempfile.TemporaryDirectory(prefix="trt-workbench-screenshot-") if args.screenshot else None
    settings = QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.Format.IniFormat) if scratch else None
    try:
        window = start_window(args, settings)
    except WorkbenchError as exc:  # e.g. no TensorRT at all: say so in a dialog, not a traceback
        if args.screenshot:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        box = error_box(None, exc)
        box.finished.connect(app.quit)
        return app.exec()
    hook = ExceptionHook(window.show_error, window)
    hook.install()
    if args.screenshot:
        _screenshot_then_quit(app, window, args)
    try:
        return app.exec()
    finally:
        hook.uninstall()
        window.loader.child.close()
        if scratch is not None:
            scratch.cleanup()


def _screenshot_then_quit(app: QCoreApplication, window: MainWindow, args: argparse.Namespace) -> ScreenshotJob:
    from workbench.ui.screenshot import DEFAULT_TIMEOUT_S, ScreenshotJob

    job = ScreenshotJob(window, args.screenshot, args.timeout or DEFAULT_TIMEOUT_S)

    def finish(code: int, message: str) -> None:
        print(message if code == 0 else f"error: {message}", file=sys.stdout if code == 0 else sys.stderr)
        window.close()
        app.exit(code)

    job.finished.connect(finish)
    return job.start()
