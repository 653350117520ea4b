"""The floor ``bench_window.py`` measures the window's start against: PySide6 with QtWebEngine, a main window holding
a web view on an empty page at the window's size; prints its first paint (``workbench.ui.startup_times``, the code
the app reports with) and exits. A file of its own so the baseline imports nothing but Qt and that module."""

import sys

from PySide6.QtCore import QUrl
from PySide6.QtWebEngineWidgets import QWebEngineView  # before the QApplication, as the app imports it
from PySide6.QtWidgets import QApplication, QMainWindow

from workbench.ui.startup_times import FirstPaintReport

app = QApplication(sys.argv[:1])
window = QMainWindow()
view = QWebEngineView(window)
view.setUrl(QUrl("about:blank"))
window.setCentralWidget(view)
window.resize(int(sys.argv[1]), int(sys.argv[2]))
FirstPaintReport(window).reported.connect(app.quit)
window.show()
sys.exit(app.exec())
