"""What the Precision panel asks for, as one Qt-free object: a mode, the nodes kept float, tolerances, calibration.

``evaluate`` applies the plan as a recipe step (``convert-precision`` or ``quantize``) and measures the
result against the FP32 model on inputs at realistic shapes; the window applies exactly that step as a
history entry. ``find_keep_set`` runs the precision bisect for the conversion modes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import FixResult, apply_fix, make_step
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.bisect import bisect_keep_set
from workbench.core.precision.conversion import (DEFAULT_TOLERANCES, TARGETS, AccuracyCheck, KeepSet, check_accuracy,
                                                 check_conversion)
from workbench.core.precision.quantize import (DEFAULT_CALIBRATION_SAMPLES, INT8_ATOL, INT8_RTOL,
                                               INT8_TOLERANCE_REASON, MODES)
from workbench.core.progress import CancelToken, ProgressFn, no_progress
from workbench.core.shapes.suggest import suggest_shapes, suggested_feeds

CONVERSION_MODES = TARGETS  # fp16, bf16
QUANTIZATION_MODES = MODES  # int8, fp8


def default_tolerances(mode: str) -> tuple[float, float, str]:
    """(atol, rtol, why) a mode is judged with unless the user sets them."""
    if mode in CONVERSION_MODES:
        return DEFAULT_TOLERANCES[mode]
    return INT8_ATOL, INT8_RTOL, INT8_TOLERANCE_REASON.replace("INT8", mode.upper())


@dataclass
class PrecisionPlan:
    mode: str  # one of CONVERSION_MODES or QUANTIZATION_MODES
    keep: list[str] = field(default_factory=list)  # node names or op types kept FP32 / left unquantized
    atol: float | None = None  # None: the mode's default
    rtol: float | None = None
    keep_io: bool = True  # graph inputs and outputs stay float32 (conversion)
    samples: int = DEFAULT_CALIBRATION_SAMPLES  # seeded random calibration samples (quantization)
    calib_file: str = ""  # calibration arrays (.npz) instead of random samples
    default_keep: bool = True  # the default keep rules (converter.DEFAULT_KEEP_RULES) apply (conversion)

    def tolerances(self) -> tuple[Tolerances, str]:
        atol, rtol, reason = default_tolerances(self.mode)
        if (self.atol, self.rtol) != (None, None) and (self.atol, self.rtol) != (atol, rtol):
            reason = "set by the user"
        return Tolerances(atol if self.atol is None else self.atol, rtol if self.rtol is None else self.rtol), reason

    def step(self):
        # Empty lists and names are left to the steps' defaults (an explicit empty list is refused).
        if self.mode in CONVERSION_MODES:
            return make_step("convert-precision", {"to": self.mode, "keep_io": self.keep_io,
                                                   "default_keep": self.default_keep,
                                                   **({"keep": self.keep} if self.keep else {})})
        if self.mode in QUANTIZATION_MODES:
            return make_step("quantize", {"mode": self.mode, "samples": self.samples,
                                          **({"exclude": self.keep} if self.keep else {}),
                                          **({"calib": self.calib_file} if self.calib_file else {})})
        raise WorkbenchError(f"Unknown precision mode {self.mode!r}.",
                             f"Choose one of: {', '.join(CONVERSION_MODES + QUANTIZATION_MODES)}.")


@dataclass
class PrecisionResult:
    """A plan applied to a model (not yet to the session) and its accuracy against the FP32 model."""

    plan: PrecisionPlan
    fix: FixResult  # the step's result; the window applies exactly this one
    check: AccuracyCheck
    tolerances: Tolerances
    tolerance_reason: str
    inputs: dict[str, list[int]]  # the shapes the accuracy was measured at
    inputs_reason: str


def _feeds(model: LoadedModel, seed: int = 0):
    suggestion = suggest_shapes(model)
    return suggested_feeds(model, seed=seed, suggestion=suggestion), \
        {name: list(shape) for name, shape in suggestion.shapes().items()}


def evaluate(model: LoadedModel, plan: PrecisionPlan, *, progress: ProgressFn = no_progress,
             cancel: CancelToken | None = None) -> PrecisionResult:
    """Apply ``plan`` to ``model`` as a recipe step and measure it against ``model`` under onnxruntime."""
    result = apply_fix(model, plan.step(), progress=progress, cancel=cancel)
    tolerances, reason = plan.tolerances()
    progress("Measuring accuracy against the FP32 model (onnxruntime)", None)
    if plan.mode in CONVERSION_MODES:
        feeds, shapes = _feeds(model)
        check = check_conversion(model, plan.mode, KeepSet.resolve(model, plan.keep), feeds, tolerances,
                                 keep_io_types=plan.keep_io, converted=result.after, default_rules=plan.default_keep)
        inputs_reason = "seeded random inputs at realistic shapes from the shape service"
    else:  # measured on a sample the calibration did not see
        feeds, shapes = _feeds(model, seed=plan.samples)
        check = check_accuracy(model, result.after, feeds, tolerances)
        inputs_reason = f"seeded random inputs (seed {plan.samples}, unseen by the calibration) at realistic shapes"
    return PrecisionResult(plan, result, check, tolerances, reason, shapes, inputs_reason)


def find_keep_set(model: LoadedModel, plan: PrecisionPlan, *, progress: ProgressFn = no_progress,
                  cancel: CancelToken | None = None):
    """The precision bisect for ``plan`` (a conversion mode), starting from its keep set."""
    if plan.mode not in CONVERSION_MODES:
        raise WorkbenchError(f"The precision bisect searches FP16/BF16 keep sets, not {plan.mode.upper()}.",
                             "Run it in FP16 or BF16 mode; its result can then be the quantization's exclude set.")
    feeds, _shapes = _feeds(model)
    tolerances, _reason = plan.tolerances()
    return bisect_keep_set(model, feeds, tolerances, KeepSet.resolve(model, plan.keep), to=plan.mode,
                           default_rules=plan.default_keep, progress=progress, cancel=cancel)
