"""Parity after a fix: does the fixed model still compute what the original did?

Both models run under onnxruntime on the same seeded inputs. Inputs a fix changed are fed
consistently: a frozen input gets its frozen value on the original side, a retyped input gets the
same values cast to its new dtype, and a static shape chosen by the fix is used for both. Outputs
the fix created from intermediate tensors (cut-outputs) are read from the original as extra outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.compare.metrics import DEFAULT_ATOL, DEFAULT_RTOL, OutputComparison, Verdict, compare_arrays
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import NamedValue
from workbench.core.onnxruntime_compat import foreign_ops
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.runners import (OnnxruntimeRunner, model_for_child, model_in_child, onnxruntime_child,
                                             runs_in_child)
from workbench.core.shapes.suggest import suggested_feeds, workload_points



class ParityVerdict(NamedValue):
    EXACT = "exact"
    WITHIN = "within-tolerance"
    BEYOND = "beyond-tolerance"
    NOT_CHECKABLE = "not-checkable"
    CANNOT_JUDGE = "tolerance-cannot-judge"  # changed, on outputs too small for the tolerance to tell (metrics.Verdict)


EXACT, WITHIN, BEYOND, NOT_CHECKABLE, CANNOT_JUDGE = ParityVerdict
VERDICT_TEXT = {
    EXACT: "exact: every output is bit-identical",
    WITHIN: "numerically changed, within tolerance",
    BEYOND: "changed beyond tolerance",
    CANNOT_JUDGE: "numerically changed; the tolerance cannot judge whether it matters",
    NOT_CHECKABLE: "not checkable",
}


@dataclass
class ParityResult:
    verdict: ParityVerdict
    outputs: list[OutputComparison] = field(default_factory=list)
    reason: str = ""  # why not checkable, or the reasons of the outputs that did not pass
    seed: int = 0
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL

    @property
    def text(self) -> str:
        text = VERDICT_TEXT[self.verdict]
        if self.outputs and self.verdict != EXACT:
            worst = max(self.outputs, key=lambda c: c.max_abs)
            text += f" (max abs error {worst.max_abs:.3g} on '{worst.name}', max rel {worst.max_rel:.3g})"
        return text + (f": {self.reason}" if self.reason else "")

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "text": self.text, "reason": self.reason, "seed": self.seed,
                "atol": self.atol, "rtol": self.rtol, "outputs": [c.to_dict() for c in self.outputs]}


def _feeds(original: LoadedModel, fixed: LoadedModel, frozen: dict[str, np.ndarray], seed: int,
           workload_shapes: dict[str, tuple[int, ...]] | None = None):
    fixed_inputs = {t.name: t for t in fixed.summary().inputs}
    original_inputs = {t.name for t in original.summary().inputs}
    extra = sorted(set(fixed_inputs) - original_inputs)
    if extra:
        raise WorkbenchError(f"the fixed model has new input(s) {', '.join(extra)} the original lacks")
    shapes = {name: shape for name, t in fixed_inputs.items() if (shape := t.fixed_shape) is not None}
    shapes = {**(workload_shapes or {}), **shapes}
    # Realistic shapes and the model's own switch values: at 1x3x1x1 a detector's outputs are all zero and
    # a perturbation would pass unseen.
    reference = suggested_feeds(original, seed, shapes=shapes)
    reference.update(frozen)
    test = {name: reference[name].astype(np.dtype(t.dtype) if t.dtype != "bfloat16" else np.float32)
            for name, t in fixed_inputs.items()}
    return reference, test


def check_parity(original: LoadedModel, fixed: LoadedModel, *, frozen_inputs: dict[str, np.ndarray] | None = None,
                 seed: int = 0, atol: float = DEFAULT_ATOL, rtol: float = DEFAULT_RTOL,
                 progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> ParityResult:
    """Run both models under onnxruntime and compare every output the fixed model has (in a child process for
    large models, so the caller never holds onnxruntime's copies of their weights)."""
    if runs_in_child(original, fixed):
        progress("Parity: running both models under onnxruntime (child process)", None)
        return onnxruntime_child().call(_parity_in_child, model_for_child(original), model_for_child(fixed),
                                        frozen_inputs, seed, atol, rtol, cancel=cancel, what="The parity check")
    return _check_parity(original, fixed, frozen_inputs, seed, atol, rtol, progress, cancel)


def _parity_in_child(original: tuple, fixed: tuple, frozen_inputs: dict[str, np.ndarray] | None, seed: int,
                     atol: float, rtol: float) -> ParityResult:
    return _check_parity(model_in_child(*original), model_in_child(*fixed), frozen_inputs, seed, atol, rtol,
                         no_progress, None)


def _check_parity(original: LoadedModel, fixed: LoadedModel, frozen_inputs, seed: int, atol: float, rtol: float,
                  progress: ProgressFn, cancel: CancelToken | None) -> ParityResult:
    def not_checkable(reason: str) -> ParityResult:
        return ParityResult(NOT_CHECKABLE, reason=reason, seed=seed, atol=atol, rtol=rtol)

    foreign = foreign_ops(fixed.proto)
    if foreign:
        return not_checkable(f"the fixed model holds {', '.join(foreign)}, a TensorRT plugin op that onnxruntime "
                             "cannot run; check it on an engine built with full TensorRT instead")
    fixed_outputs = [t.name for t in fixed.summary().outputs]
    reference: dict[str, np.ndarray] = {}
    test: dict[str, np.ndarray] = {}
    compared: list[str] = []  # every fixed-model output at every point, "logits [prefill]" for other workloads
    # The representative point, then every other workload's (a decoder's prefill beside its decode step).
    for label, shapes, values in [("", None, {}), *workload_points(original)]:
        try:
            switches = {name: np.full(shapes[name], value) for name, value in values.items()} if shapes else {}
            reference_feeds, test_feeds = _feeds(original, fixed, {**switches, **(frozen_inputs or {})}, seed, shapes)
            progress("Parity: running the original model" + (f" ({label})" if label else ""), 0.1)
            with OnnxruntimeRunner(original, extra_outputs=fixed_outputs) as runner:
                outputs = runner.run(reference_feeds)
            if cancel:
                cancel.raise_if_cancelled("The parity check")
            progress("Parity: running the fixed model" + (f" ({label})" if label else ""), 0.5)
            with OnnxruntimeRunner(fixed) as runner:
                results = runner.run(test_feeds)
        except WorkbenchError as exc:
            return not_checkable(exc.message)
        suffix = f" [{label}]" if label else ""
        reference.update({f"{name}{suffix}": array for name, array in outputs.items()})
        test.update({f"{name}{suffix}": array for name, array in results.items()})
        compared += [f"{name}{suffix}" for name in fixed_outputs]
    common = [name for name in compared if name in reference]
    if not common:
        return not_checkable("the fixed model has no output the original computes")
    comparisons = [compare_arrays(name, reference[name], test[name], atol, rtol) for name in common]
    progress("Parity: done", 1.0)
    if all(reference[n].shape == test[n].shape and np.array_equal(reference[n], test[n], equal_nan=True)
           for n in common):
        return ParityResult(EXACT, comparisons, seed=seed, atol=atol, rtol=rtol)
    # The comparator's judgement per output: a FAIL is beyond tolerance; an output the tolerance
    # cannot judge keeps the fix from counting as "within tolerance".
    verdicts = {c.verdict for c in comparisons}
    verdict = BEYOND if Verdict.FAIL in verdicts else CANNOT_JUDGE if Verdict.CANNOT_JUDGE in verdicts else WITHIN
    reason = "; ".join(f"'{c.name}': {c.reason}" for c in comparisons if c.verdict is not Verdict.PASS)
    return ParityResult(verdict, comparisons, reason=reason, seed=seed, atol=atol, rtol=rtol)
