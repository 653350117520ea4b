"""The Compare panel's report export: *Export report…* writes the shown comparison as JSON + HTML.

Written in the background (the report's plots are computed over whole outputs); where it went is
said in the Log panel, why it could not be written in the results' verdict line.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QPushButton, QWidget

from workbench.core.compare.comparison import CompareResult
from workbench.core.compare.report import write_report
from workbench.core.progress import CancelToken, ProgressFn
from workbench.ui.compare_results import CompareResults
from workbench.ui.session import Session
from workbench.ui.tasks import Task
from workbench.ui.worker import Worker


def _write_report(result: CompareResult, path: str | Path, progress: ProgressFn,
                  cancel: CancelToken) -> tuple[Path, Path]:
    return write_report(result, path)


class ReportButton(QPushButton):
    """*Export report…* for the comparison ``results`` shows; the owner enables it when there is one."""

    def __init__(self, session: Session, results: CompareResults, parent: QWidget | None = None) -> None:
        super().__init__("Export report…", parent)
        self.session = session
        self.results = results
        self.setEnabled(False)
        self.task = Task(self, session, "compare", on_done=self._exported, on_error=results.show_error,
                         errors_in_place=True)
        self.clicked.connect(self._choose_path)

    def export(self, path: str | Path) -> Worker:
        """Write ``path`` (HTML) and the JSON beside it in the background."""
        return self.task.start(_write_report, self.results.result, path)

    def _choose_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export comparison report", "comparison.html",
                                              "HTML report (*.html)")
        if path:
            self.export(path)

    def _exported(self, written: tuple[Path, Path]) -> None:
        self.session.log("info", f"Comparison report written: {written[1]}", "compare")
