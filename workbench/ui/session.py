"""The window's state: the model being worked on and what is known about it.

Panels take the ``Session`` and listen to its signals; they never hold their own copy of the
model. Whoever changes the model (open, a fix, undo) goes through ``Session`` so every panel
and the graph view update together.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from workbench.core.analysis import SupportReport
from workbench.core.backend import Backend, LogMessage
from workbench.core.model import LoadedModel
from workbench.core.problems import Problem


class Session(QObject):
    model_changed = Signal(object)  # LoadedModel
    report_changed = Signal(object)  # SupportReport
    problems_changed = Signal(list)  # list[Problem]: parser + detector + builder problems
    node_selected = Signal(str)  # a node name to show (graph view centres it)
    log_message = Signal(object)  # LogMessage, from any thread (queued to the GUI thread)
    busy_changed = Signal(bool, str)  # busy?, what is running

    def __init__(self, backend: Backend, parent=None):
        super().__init__(parent)
        self.backend = backend
        self.model: LoadedModel | None = None
        self.report: SupportReport | None = None
        # Problems added by later stages, by source ("detectors", "trial-build", "build", ...).
        self._problems_by_source: dict[str, list[Problem]] = {}

    @property
    def problems(self) -> list[Problem]:
        found = list(self.report.problems) if self.report else []
        for problems in self._problems_by_source.values():
            found.extend(problems)
        return found

    def set_model(self, model: LoadedModel, report: SupportReport | None = None) -> None:
        self.model = model
        self.report = report
        self._problems_by_source = {}
        self.model_changed.emit(model)
        if report is not None:
            self.report_changed.emit(report)
        self.problems_changed.emit(self.problems)

    def set_report(self, report: SupportReport) -> None:
        self.report = report
        self.report_changed.emit(report)
        self.problems_changed.emit(self.problems)

    def set_problems(self, source: str, problems: list[Problem]) -> None:
        """Replace the problems one stage found (e.g. source="trial-build") and tell the panels."""
        self._problems_by_source[source] = list(problems)
        self.problems_changed.emit(self.problems)

    def log(self, severity: str, text: str, source: str = "app") -> None:
        self.log_message.emit(LogMessage(severity, text, source))
