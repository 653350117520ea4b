"""Fixtures for the window's tests: real Qt widgets, the real analysis child and TensorRT parser.

QtWebEngine must be imported before the QApplication exists, Chromium needs --no-sandbox as root,
and PySide6 6.12.0 needs its emit() reference fix; all happen at import time here, i.e. during collection,
before pytest-qt's ``qapp``.
"""

from __future__ import annotations

import gc
import os
import threading

import pytest

from workbench.ui.app import prepare_qt

prepare_qt()

from PySide6.QtCore import QCoreApplication, QEvent, QSettings, QThreadPool  # noqa: E402

from workbench.ui.graph_view import WEBENGINE_MISSING  # noqa: E402
from workbench.ui.screenshot import pending_work  # noqa: E402

LOAD_TIMEOUT_MS = 60_000
HAS_DISPLAY = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
needs_webengine = pytest.mark.skipif(
    bool(WEBENGINE_MISSING) or not HAS_DISPLAY,
    reason="QtWebEngine needs a display (run under xvfb-run: scripts/test.sh)"
           + (f": {WEBENGINE_MISSING}" if WEBENGINE_MISSING else ""))


@pytest.fixture(scope="session")
def analysis_child():
    from workbench.core.analysis.background import analysis_child as make_child

    child = make_child("auto")
    child.start()
    yield child
    child.close()


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def _netron_threads():
    import netron.server

    return [t for t in threading.enumerate() if isinstance(t, netron.server._HTTPServerThread) and t.alive()]


def settle(qtbot):
    """Let every background job (ours and other panels', e.g. trial builds) deliver its result to
    a live window before the window goes away."""
    pool = QThreadPool.globalInstance()
    qtbot.waitUntil(lambda: pool.activeThreadCount() == 0, timeout=LOAD_TIMEOUT_MS)


@pytest.fixture
def make_window(qtbot, backend, analysis_child, settings):
    """Build main windows sharing the analysis child; each is closed and its Netron server checked."""
    from workbench.ui.main_window import MainWindow
    from workbench.ui.session import Session

    windows = []

    def make(settings_override=None, size: tuple[int, int] | None = None):
        window = MainWindow(Session(backend), analysis_child, settings=settings_override or settings)
        if size:  # as on a screen of that size: the default layout is made for it at the first show
            window.resize(*size)
        window.show()
        windows.append(window)
        return window

    yield make
    settle(qtbot)
    for window in windows:  # closed here rather than by qtbot, after the jobs above have settled
        window.close()
        qtbot.waitUntil(lambda window=window: not window.loader.busy, timeout=LOAD_TIMEOUT_MS)
        window.deleteLater()
    windows.clear()
    qtbot.waitUntil(lambda: not _netron_threads(), timeout=5000)
    # Free the closed windows' reference cycles now, on the GUI thread. Left to Python's collector they are freed
    # on whichever thread allocates next: a worker thread destroying a QMenu there waited for the GIL while the GUI
    # thread, holding it, waited for Qt's object lock (a deadlock seen in a full run).
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def window(make_window):
    return make_window()


def wait_for_model(qtbot, window, path):
    """Wait until ``path`` is the window's model, analysed, and nothing is loading."""
    target = os.path.realpath(path)
    qtbot.waitUntil(lambda: window.session.model is not None and window.session.model.path is not None
                    and os.path.realpath(window.session.model.path) == target
                    and window.session.report is not None and not window.loader.busy,
                    timeout=LOAD_TIMEOUT_MS)


def open_and_wait(qtbot, window, path):
    window.open_path(path)
    wait_for_model(qtbot, window, path)


def settle_window(qtbot, window) -> None:
    """Analysis, trial build and marks all done."""
    qtbot.waitUntil(lambda: not pending_work(window), timeout=LOAD_TIMEOUT_MS)


def freeze_the_parser_error_input(qtbot, window, value: str = "0.5") -> None:
    """The user's way to fix if_scalar: the parser error's freeze-input fix, previewed, applied, settled."""
    problem = next(p for p in window.session.problems if p.kind == "parser-error")
    window.session.fix_requested.emit(problem, "freeze-input")
    dialog = window.panels["fixes"].dialog
    dialog.fields["value"].setText(value)
    assert dialog.preview() is not None
    qtbot.waitUntil(lambda: dialog.apply_button.isEnabled(), timeout=LOAD_TIMEOUT_MS)
    dialog.apply_button.click()
    settle_window(qtbot, window)
