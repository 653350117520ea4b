"""Runs a trial build after every analysis, in the background, and adds its problems to the triage list.

The window stays usable meanwhile; the builder's refusals arrive as ``session.set_problems
("trial-build", …)`` when the build finishes. A newer analysis starts a new trial build, which
replaces the one in flight (its result never arrives). The result and the shapes it probed are kept
with the model (``session.keep``): an undo or redo back to that model shows them again instead of
building again. The "Trial build after analysis" setting (QSettings, toggled from the Repair menu)
turns it off. The main window owns the runner.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from workbench.core.analysis.support import SupportReport
from workbench.core.build.trial import TrialBuild, trial_build
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.session import ResultKind
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.ui.session import Session
from workbench.ui.tasks import Task
from workbench.ui.worker import Worker

SETTING_KEY = "analysis/trial_build"
SOURCE = "trial-build"


class TrialBuildRunner(QObject):
    finished = Signal(object)  # TrialBuild, after its problems reached the session

    def __init__(self, session: Session, settings: QSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.last: TrialBuild | None = None
        self._trial_of: LoadedModel | None = None  # the model the running trial build is about
        self.task = Task(self, session, SOURCE, on_done=self._finished, on_error=self._failed, errors_in_place=True)
        session.report_changed.connect(self._report_changed)
        session.model_changed.connect(self._model_changed)

    @property
    def enabled(self) -> bool:
        return str(self.settings.value(SETTING_KEY, True)).lower() not in ("false", "0")

    def set_enabled(self, enabled: bool) -> None:
        self.settings.setValue(SETTING_KEY, enabled)
        if enabled:
            self.run()
        else:
            self.task.abandon()
            self.session.set_problems(SOURCE, [])
            self.session.set_stage("builds", "none", "the trial build after analysis is off (Repair menu)")

    @property
    def busy(self) -> bool:
        return self.task.running

    def cancel(self) -> None:
        self.task.cancel()

    def _report_changed(self, _report: SupportReport) -> None:
        """A new analysis builds again; a report restored by undo or redo comes with its model's trial build."""
        kept = self.session.kept(ResultKind.TRIAL_BUILD, TrialBuild)
        if kept is None:
            self.run()
        else:
            self.last = kept

    def run(self) -> Worker | None:
        model = self.session.model
        if not self.enabled or model is None:
            return None
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError:
            profiles = []  # a half-edited profile: the trial build falls back to suggested shapes
        self.session.log("info", f"Trial build of {model.name} started (no engine file is written).")
        self.session.set_stage("builds", "running", "trial build running (no engine file is written)")
        self._trial_of = model
        return self.task.start(trial_build, model, profiles, backend=self.session.backend)

    def _model_changed(self, _model: LoadedModel) -> None:
        """A build of the previous model says nothing about this one: its result must not arrive."""
        self.task.abandon()

    def _finished(self, trial: TrialBuild) -> None:
        self.last = trial
        self.session.keep(ResultKind.TRIAL_BUILD, trial, self._trial_of)
        if trial.shapes is not None:
            self.session.keep(ResultKind.SHAPES, trial.shapes, self._trial_of)
            self.session.shapes_suggested.emit(trial.shapes)
        self.session.set_problems(SOURCE, trial.triage_problems())
        if trial.skipped:
            self.session.set_stage("builds", "none", f"Trial build skipped: {trial.skipped}")
            self.session.log("warning", f"Trial build skipped: {trial.skipped}.")
        else:
            outcome = "succeeded" if trial.succeeded else f"failed with {len(trial.problems)} problem(s)"
            assumed = f"; assumed {'; '.join(trial.assumed)}" if trial.assumed else ""
            self.session.set_stage("builds", "ok" if trial.succeeded else "failed", f"Trial build {outcome}{assumed}")
            self.session.log("info" if trial.succeeded else "warning",
                             f"Trial build {outcome} in {trial.seconds:.2f} s{assumed}.")
        self.finished.emit(trial)

    def _failed(self, error: WorkbenchError) -> None:
        self.session.set_stage("builds", "none", f"the trial build could not run: {error.message}")
