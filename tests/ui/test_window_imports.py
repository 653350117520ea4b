"""What the window's start imports: pyqtgraph (~0.6 s, a quarter of the start) only when the Compare panel first
plots an output, never to show the window."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.qt

_SCRIPT = """
import sys
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from workbench.ui.app import build_window
settings = QSettings(sys.argv[1], QSettings.Format.IniFormat)
window = build_window("auto", settings)
window.show()
app.processEvents()
print("pyqtgraph" in sys.modules)
window.close()
"""


def test_showing_the_window_does_not_import_pyqtgraph(tmp_path):
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path / "settings.ini")], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
