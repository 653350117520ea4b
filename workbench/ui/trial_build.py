"""Runs a trial build after every analysis, in a worker, and adds its problems to the triage list.

The window stays usable meanwhile; the builder's refusals arrive as ``session.set_problems
("trial-build", …)`` when the build finishes. A result for a model that is no longer the session's
is dropped. The "Trial build after analysis" setting (QSettings) turns it off.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from workbench.core.errors import WorkbenchError
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.core.build.trial import TrialBuild, trial_build
from workbench.ui.session import Session
from workbench.ui.worker import Worker, start

SETTING_KEY = "analysis/trial_build"
SOURCE = "trial-build"


class TrialBuildController(QObject):
    finished = Signal(object)  # TrialBuild, after its problems reached the session

    def __init__(self, session: Session, settings: QSettings, parent=None):
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.worker: Worker | None = None  # the latest build
        self._running: dict = {}  # signals → (worker, model); cancelled ones stay referenced until they end
        self.last: TrialBuild | None = None
        session.report_changed.connect(lambda _report: self.run())

    @property
    def enabled(self) -> bool:
        return str(self.settings.value(SETTING_KEY, True)).lower() not in ("false", "0")

    def set_enabled(self, enabled: bool) -> None:
        self.settings.setValue(SETTING_KEY, enabled)
        if enabled:
            self.run()
        else:
            self.cancel()
            self.session.set_problems(SOURCE, [])
            self.session.set_stage("builds", "none", "the trial build after analysis is off (Repair menu)")

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def run(self) -> Worker | None:
        model = self.session.model
        if not self.enabled or model is None:
            return None
        self.cancel()
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError:
            profiles = []  # a half-edited profile: the trial build falls back to suggested shapes
        worker = Worker(trial_build, model, profiles, backend=self.session.backend)
        # Bound methods, not lambdas: Qt drops these connections if the window goes first.
        worker.signals.finished.connect(self._finished)
        worker.signals.failed.connect(self._failed)
        worker.signals.done.connect(self._done)
        self.worker = worker
        self._running[worker.signals] = (worker, model)
        self.session.log("info", f"Trial build of {model.name} started (no engine file is written).")
        self.session.set_stage("builds", "running", "trial build running (no engine file is written)")
        return start(worker)

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _finished(self, trial: TrialBuild) -> None:
        _worker, model = self._running[self.sender()]
        if model is not self.session.model:
            return
        self.last = trial
        if trial.shapes is not None:
            self.session.shapes_suggested.emit(trial.shapes)
        self.session.set_problems(SOURCE, trial.triage_problems())
        outcome = "succeeded" if trial.succeeded else f"failed with {len(trial.problems)} problem(s)"
        assumed = f"; assumed {'; '.join(trial.assumed)}" if trial.assumed else ""
        self.session.set_stage("builds", "ok" if trial.succeeded else "failed", f"Trial build {outcome}{assumed}")
        self.session.log("info" if trial.succeeded else "warning",
                         f"Trial build {outcome} in {trial.seconds:.2f} s{assumed}.")
        self.finished.emit(trial)

    def _failed(self, error) -> None:
        self.session.log("warning", f"Trial build: {error.message}")
        _worker, model = self._running[self.sender()]
        if model is self.session.model:
            self.session.set_stage("builds", "none", f"the trial build could not run: {error.message}")

    def _done(self) -> None:
        worker, _model = self._running.pop(self.sender())
        if self.worker is worker:
            self.worker = None
