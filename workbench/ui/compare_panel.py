"""The Compare panel: does the engine (or the fixed model) compute what the ONNX model computes?

A thin view over ``workbench.core.compare.comparison`` in three parts: the form (``compare_form``:
what to compare against, the inputs, the tolerances, kept in the recipe), the results
(``compare_results``: verdict, pass/fail table, |error| plots, bisect, timing) and the report export
(``compare_report``). The panel runs ``run_comparison`` in the background with the job controls, and
keeps each result with the model it is about.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from workbench.core.build.engine import BuildResult
from workbench.core.compare.comparison import CompareResult, run_comparison
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import frozen_inputs
from workbench.core.model.loading import LoadedModel
from workbench.core.session import ResultKind
from workbench.ui.compare_form import CompareForm
from workbench.ui.compare_report import ReportButton
from workbench.ui.compare_results import CompareResults
from workbench.ui.job_controls import JobControls
from workbench.ui.reduce_dialog import ComparisonToReduce
from workbench.ui.session import Session
from workbench.ui.worker import Worker


class ComparePanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.form = CompareForm(session)
        self.results = CompareResults(session)
        self.report = ReportButton(session, self.results)
        # A failed model-vs-model comparison reduces to the nodes where the two depart (issue: reduce from a
        # comparison); an engine comparison needs a GPU here, so only model pairs offer it.
        self.reduce_button = QPushButton("Reduce…")
        self.reduce_button.clicked.connect(self.reduce_failure)
        self.jobs = JobControls(session, "Compare", can_run=lambda: self.session.model is not None,
                                extra=(self.report, self.reduce_button))
        self.run_button = self.jobs.run_button
        self.run_button.clicked.connect(self.run_comparison)
        self.compare_task = self.jobs.add_task(self, "compare", on_done=self.show_result,
                                               on_error=self._comparison_failed, on_cancelled=self._cancelled,
                                               on_end=self._update_enabled, errors_in_place=True, announce="Comparing")
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.jobs)
        layout.addWidget(self.results, 1)

        error = self.form.load_recipe()
        if error is not None:
            self._refuse(error)
        self._compared_for: LoadedModel | None = None  # the model the running (or shown) comparison is about
        self._compared_reference: LoadedModel | None = None  # its reference side (a model-vs-model comparison)
        self._compared_against = ""  # "engine" or "model": what that comparison ran against
        session.engine_built.connect(self._on_engine_built)
        session.model_changed.connect(self._model_changed)
        self.form.model_changed(session.model)
        self._update_enabled()

    @property
    def result(self) -> CompareResult | None:
        """The comparison shown."""
        return self.results.result

    def _update_enabled(self) -> None:
        self.jobs.refresh()
        self.report.setEnabled(self.result is not None and not self.jobs.running)
        why_not = self._why_not_reducible()
        self.reduce_button.setEnabled(not why_not)
        self.reduce_button.setToolTip(why_not or "Cut both models down to the smallest part where they still "
                                                 "disagree, and write a report (opens the reduce dialog)")

    def _why_not_reducible(self) -> str:
        """Why the shown comparison cannot be reduced ("" when it can)."""
        result, reference, test = self.result, self._compared_reference, self._compared_for
        if result is None or self.jobs.running:
            return "Reduces a failed comparison: compare first."
        if result.passed:
            return "The comparison passed: nothing to reduce."
        if self._compared_against == "engine" or reference is None or test is None or test is not self.session.model:
            return ("Reduces a failed model-vs-model comparison; an engine comparison needs a GPU that runs it "
                    "(use trt-workbench reduce --against on a GPU machine).")
        if [n.op_type for n in reference.proto.graph.node] != [n.op_type for n in test.proto.graph.node]:
            return ("The two models do not have the same nodes (a fix or conversion added or removed some): a "
                    "reduction cuts both at the same places, so it needs the same graph on both sides.")
        return ""

    def reduce_failure(self) -> None:
        result, reference, test = self.result, self._compared_reference, self._compared_for
        if self._why_not_reducible() or result is None or reference is None or test is None:
            return
        self.session.reduce_requested.emit(ComparisonToReduce(reference, test, result.tolerances))

    def _on_engine_built(self, result: BuildResult) -> None:
        if result.engine_path:
            self.form.use_engine(result.engine_path, self.session.model)

    def _model_changed(self, model: LoadedModel | None) -> None:
        """A result, an engine path or plots of another model (or an earlier step) go: they are not this model's."""
        self.form.model_changed(model)
        kept = self.session.kept(ResultKind.COMPARISON, CompareResult)
        if kept is not None and not self.compare_task.running:  # back to a compared model (undo, redo)
            self._compared_for = model
            self.results.show_comparison(kept)
        elif self.result is not None and self._compared_for is not model:
            self.results.clear("No comparison of this model yet.")
        self._update_enabled()

    def run_comparison(self) -> Worker | None:
        session = self.session
        if session.model is None or self.compare_task.running:
            return None
        try:
            spec, settings = self.form.input_spec(), self.form.settings()
        except WorkbenchError as exc:
            self._refuse(exc)
            return None
        session.recipe.inputs, session.recipe.compare = spec.to_dict(), settings.to_dict()
        # Engine: it was built from the current model. Models: the original is the reference for the fixes, fed
        # the values the fixes froze (the fixed model only has that path), as the fixes' own parity check is.
        reference = session.model if settings.against == "engine" else (session.original or session.model)
        if settings.against != "engine" and reference is not session.model:
            frozen = frozen_inputs(reference, session.recipe.fixes)
            spec = replace(spec, value_ranges={**{name: (float(v.reshape(-1)[0]), float(v.reshape(-1)[0]))
                                                  for name, v in frozen.items() if v.size and np.all(v == v.flat[0])},
                                               **spec.value_ranges})
        self._compared_for, self._compared_against = session.model, settings.against
        self._compared_reference = reference
        worker = self.jobs.start(self.compare_task, run_comparison, reference, settings, spec, session.backend,
                                 against=session.model, profiles=list(session.recipe.profiles))
        self.results.say("Comparing…")
        session.set_stage("compare", "running", "comparing against onnxruntime")
        self._update_enabled()
        return worker

    def _cancelled(self) -> None:
        self.results.say("Comparison cancelled.")
        self.session.set_stage("compare", "none", "the last comparison was cancelled")

    def _comparison_failed(self, error: WorkbenchError) -> None:
        # Not a mismatch: nothing was compared (e.g. no GPU to run the engine), so no verdict either way.
        self.session.set_stage("compare", "none", f"the comparison could not run: {error.message}")
        self.results.show_error(error)

    def _refuse(self, error: WorkbenchError) -> None:
        """Settings that cannot be used: said here, and in the Log panel."""
        self.results.show_error(error)
        self.session.report_error(error, "compare", shown_in_place=True)

    def show_result(self, result: CompareResult) -> None:
        # Kept with the model it is about, even when that is an earlier step now (an undo shows it again).
        self.session.keep(ResultKind.COMPARISON, result, self._compared_for)
        if self._compared_for is not self.session.model:
            return  # the model changed while it ran: the verdict is about another model
        # "Matches onnxruntime" is the engine's claim: a model-vs-model comparison (the fixes' effect) proves
        # nothing about TensorRT, so it leaves the strip's stage as it is and shows its verdict here only.
        if self._compared_against == "engine":
            self.session.set_stage("compare", "ok" if result.passed else "failed",
                                   f"{result.reference} vs {result.test}: {result.summary}")
        else:
            self.session.set_stage("compare", "none", f"no engine compared yet (model vs model: {result.summary})")
        self.results.show_comparison(result)
        self._update_enabled()
