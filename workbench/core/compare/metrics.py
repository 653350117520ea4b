"""Comparators as functions over arrays: how far ``test`` is from ``reference``.

Tolerances and the element rule follow Polygraphy's defaults (``atol = rtol = 1e-5``, its
"elemwise" check): an element mismatches when ``|test - ref| > atol`` AND ``|test - ref| / |ref| > rtol``.

NaN and Inf, decided as Polygraphy decides them:
- a NaN on either side is a mismatch, even NaN against NaN (its absolute difference is NaN, which
  fails every threshold); the counts per side are reported so the user sees which side made it;
- matching infinities (same sign on both sides) are a mismatch too by default, because
  ``inf - inf`` is NaN; ``infinities_compare_equal=True`` counts them as equal (Polygraphy's
  ``--infinities-compare-equal``);
- error statistics (max/mean, cosine) are taken over the elements that are finite on both sides.

Relative error where the reference is zero is undefined: those elements are judged by ``atol``
alone and left out of the relative statistics (Polygraphy adds 2e-16 instead, which reports
relative errors around 1e10 that say nothing).

Float32 and float16 outputs are measured in float32 (enough for errors near 1e-7 and half the
memory traffic of float64); float64 and integer outputs in float64.

The element rule alone can be fooled: an output whose values are all far below atol passes
whatever it holds, and a loose atol lets through outputs that point elsewhere. ``compare_arrays``
gives each output a verdict on top of the rule (``Verdict``: PASS, FAIL, CANNOT_JUDGE) with its reason:
- FAIL when the rule fails, or when it passes but scale-free measures say the outputs disagree:
  cosine similarity, a top-1/top-k class the reference ranks clearly lower (not a near-tie), or a
  large relative error on an element that carries a real share of the output's scale;
- CANNOT_JUDGE when the rule passes but the output is too small for atol to mean anything (all
  values below ``MAGNITUDE_FACTOR`` × atol, or most of its magnitude in elements under atol);
- PASS otherwise, and always for identical values.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from workbench.core.problems import NamedValue

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
DEFAULT_TOP_K = 5
HISTOGRAM_BINS = 60

# --- the judgement on top of the element rule (thresholds and why) ---------------------------
# An output whose largest |value| (either side) is below 10 × atol can be wrong by a tenth of its
# own size or more and still pass atol: the tolerance says nothing about it.
MAGNITUDE_FACTOR = 10.0
# Share of the output's magnitude (sum of |ref|) held by elements with |ref| <= atol above which
# the element rule judges only a minority of what the output carries.
UNDER_ATOL_SHARE_MAX = 0.5
# 1 - cosine ~ (relative RMS error)^2 / 2, so 0.9999 means an error norm of 1.4 % of the output's
# norm. float16 rounding (2^-11 relative) and TensorRT's kernel/accumulation order move outputs by
# ~1e-3 relative (1 - cosine ~ 1e-6), deep float16 networks by up to ~1e-2 (~5e-5): both stay
# inside. A user rtol looser than that lowers the bar (an output within rtol everywhere has
# 1 - cosine <= rtol^2 / 2).
COSINE_MIN = 0.9999
# A top-1/top-k class the two sides rank differently counts as a disagreement only when the
# reference puts the test's class below its own k-th class by more than 1 % of the row's largest
# |value|: closer than that is a near-tie that float16-sized noise may legitimately flip.
NEAR_TIE_FRACTION = 1e-2
# Elements with |ref| >= 10 % of the output's largest |ref| carry its signal; float16/TensorRT
# errors reach ~1e-2 of the output's scale, i.e. up to 10 % relative on such an element, so a
# relative error above 20 % there is a disagreement no precision change explains.
SIGNIFICANT_FRACTION = 0.1
SIGNIFICANT_REL_MAX = 0.2


class Verdict(NamedValue):
    """The judgement of one output (or of a whole comparison)."""

    PASS = "PASS"
    FAIL = "FAIL"
    CANNOT_JUDGE = "CANNOT_JUDGE"  # the element rule passed, but the tolerance cannot tell on these values


@dataclass(frozen=True)
class Tolerances:
    """Global tolerances, optionally overridden per output name."""

    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    per_output: dict[str, tuple[float, float]] = field(default_factory=dict)
    infinities_compare_equal: bool = False

    def for_output(self, name: str) -> tuple[float, float]:
        return self.per_output.get(name, (self.atol, self.rtol))

    def to_dict(self) -> dict:
        data: dict[str, object] = {"atol": self.atol, "rtol": self.rtol}
        if self.per_output:
            data["per_output"] = {name: list(pair) for name, pair in self.per_output.items()}
        if self.infinities_compare_equal:
            data["infinities_compare_equal"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Tolerances":
        return cls(float(data.get("atol", DEFAULT_ATOL)), float(data.get("rtol", DEFAULT_RTOL)),
                   {name: (float(a), float(r)) for name, (a, r) in data.get("per_output", {}).items()},
                   bool(data.get("infinities_compare_equal", False)))


@dataclass
class OutputComparison:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    max_rel: float
    mean_rel: float
    cosine: float
    outside_fraction: float  # fraction of elements failing the atol/rtol rule (NaN counts as failing)
    nan_ref: int
    nan_test: int
    inf_ref: int
    inf_test: int
    within_tolerance: bool  # Polygraphy's element rule: no element outside atol/rtol
    verdict: Verdict  # the element rule plus the checks it cannot make (see the module docstring)
    reason: str  # why, with the numbers
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    dtype: str = ""
    # Logits ([batch, classes] outputs): share of rows whose arg-max agrees, and mean overlap of the
    # top-k class sets. None for other outputs.
    top_k: int = 0
    top1_agreement: float | None = None
    topk_agreement: float | None = None
    # The output's scale: largest finite |value| on each side.
    max_abs_ref: float = 0.0
    max_abs_test: float = 0.0

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape)
        data["verdict"] = str(self.verdict)
        data["passed"] = self.passed
        # JSON has no inf/nan: write them as strings the reader can still parse with float().
        return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in data.items()}


def _working_dtype(*arrays: np.ndarray) -> np.dtype:
    if all(a.dtype in (np.float32, np.float16) for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _unmeasured(name: str, test: np.ndarray, atol: float, rtol: float, verdict: Verdict,
                reason: str) -> OutputComparison:
    """Outputs with nothing to measure element by element: a shape mismatch (FAIL) or empty (PASS)."""
    error = math.inf if verdict is Verdict.FAIL else 0.0
    return OutputComparison(name, tuple(test.shape), error, error, error, error,
                            0.0 if verdict is Verdict.FAIL else 1.0, 1.0 if verdict is Verdict.FAIL else 0.0,
                            0, 0, 0, 0, verdict is Verdict.PASS, verdict, reason, atol, rtol, str(test.dtype))


def compare_arrays(name: str, reference: np.ndarray, test: np.ndarray, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL, *, infinities_compare_equal: bool = False,
                   top_k: int = DEFAULT_TOP_K) -> OutputComparison:
    reference = np.asarray(reference)
    test = np.asarray(test)
    if reference.shape != test.shape:
        return _unmeasured(name, test, atol, rtol, Verdict.FAIL,
                           f"shape mismatch: reference {list(reference.shape)} vs test {list(test.shape)}")
    integral = reference.dtype.kind in "biu" and test.dtype.kind in "biu"
    if reference.dtype == np.bool_ or test.dtype == np.bool_:
        reference, test = reference.astype(np.uint8), test.astype(np.uint8)
    work = _working_dtype(reference, test)
    ref = reference.astype(work, copy=False).ravel()
    out = test.astype(work, copy=False).ravel()
    size = ref.size
    if size == 0:
        return _unmeasured(name, test, atol, rtol, Verdict.PASS, "empty output on both sides: nothing can differ")

    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: handled below
        diff = np.subtract(out, ref)
    np.abs(diff, out=diff)
    max_abs = float(diff.max())  # NaN if any element is NaN; inf if any is inf: both sides are then checked
    nan_ref = nan_test = inf_ref = inf_test = 0
    finite = None
    if not math.isfinite(max_abs):
        nan_ref, nan_test = int(np.isnan(ref).sum()), int(np.isnan(out).sum())
        inf_ref, inf_test = int(np.isinf(ref).sum()), int(np.isinf(out).sum())
        finite = np.isfinite(ref) & np.isfinite(out)
        if infinities_compare_equal:
            diff[np.isinf(ref) & (ref == out)] = 0
        diff[np.isnan(diff)] = np.inf  # a NaN fails every threshold, as in Polygraphy
        max_abs = float(diff.max())

    abs_ref = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.divide(diff, abs_ref)  # inf (or NaN for 0/0) where the reference is zero
    if finite is not None:
        rel[np.isnan(rel)] = np.inf  # inf / inf
    nonzero = None
    if not abs_ref.min() > 0:
        nonzero = abs_ref > 0
        rel[~nonzero] = np.inf  # judged by atol alone
    outside = int(np.count_nonzero((diff > atol) & (rel > rtol)))

    finite_ref, finite_out = (ref, out) if finite is None else (ref[finite], out[finite])
    max_abs_ref = float(abs_ref.max()) if finite is None else _largest_magnitude(finite_ref)
    max_abs_test = _largest_magnitude(finite_out)
    cosine = _cosine(finite_ref, finite_out, max(max_abs_ref, max_abs_test))
    if finite is None and nonzero is None:
        mean_abs, max_rel, mean_rel = float(diff.mean()), float(rel.max()), float(rel.mean())
    else:
        keep = finite if nonzero is None else (nonzero if finite is None else finite & nonzero)
        finite_diff = diff if finite is None else diff[finite]
        rel_kept = rel[keep]
        mean_abs = float(finite_diff.mean()) if finite_diff.size else math.inf
        max_rel = float(rel_kept.max()) if rel_kept.size else 0.0
        mean_rel = float(rel_kept.mean()) if rel_kept.size else 0.0

    top1 = topk = None
    k = 0
    if top_k and test.ndim == 2 and test.shape[1] >= 2 and np.issubdtype(test.dtype, np.floating):
        k = min(top_k, test.shape[1])
        top1, topk = topk_agreement(reference, test, k)
    comparison = OutputComparison(
        name=name, shape=tuple(test.shape), max_abs=max_abs, mean_abs=mean_abs, max_rel=max_rel, mean_rel=mean_rel,
        cosine=cosine, outside_fraction=outside / size, nan_ref=nan_ref, nan_test=nan_test, inf_ref=inf_ref,
        inf_test=inf_test, within_tolerance=outside == 0, verdict=Verdict.FAIL, reason="", atol=atol, rtol=rtol,
        dtype=str(test.dtype), top_k=k, top1_agreement=top1, topk_agreement=topk, max_abs_ref=max_abs_ref,
        max_abs_test=max_abs_test)
    if not comparison.within_tolerance:
        comparison.reason = _outside_reason(comparison, outside, size)
    elif max_abs == 0:
        comparison.verdict, comparison.reason = Verdict.PASS, "identical values"
    elif integral:
        comparison.verdict, comparison.reason = Verdict.PASS, "integer values within atol/rtol"
    else:
        finite_abs_ref = abs_ref if finite is None else abs_ref[finite]
        comparison.verdict, comparison.reason = _judge(comparison, ref.reshape(test.shape), out.reshape(test.shape),
                                                       finite_abs_ref, rel if finite is None else rel[finite])
    return comparison


def _largest_magnitude(values: np.ndarray) -> float:
    # Two reductions instead of np.abs: no temporary the size of the output.
    return max(float(values.max()), -float(values.min())) if values.size else 0.0


def _outside_reason(c: OutputComparison, outside: int, size: int) -> str:
    reason = (f"{outside} of {size} element(s) ({c.outside_fraction:.2%}) outside atol {c.atol:g} / rtol {c.rtol:g}; "
              f"max |err| {c.max_abs:.3g}")
    if c.nan_ref or c.nan_test:
        reason += f"; NaN in reference {c.nan_ref}, test {c.nan_test} (a NaN never matches)"
    if c.inf_ref or c.inf_test:
        reason += f"; Inf in reference {c.inf_ref}, test {c.inf_test}"
    return reason


def _judge(c: OutputComparison, ref: np.ndarray, out: np.ndarray, abs_ref: np.ndarray,
           rel: np.ndarray) -> tuple[Verdict, str]:
    """The verdict for a float output that passes the element rule without being identical.

    ``ref``/``out`` have the output's shape (for the top-k checks); ``abs_ref`` and ``rel`` hold the
    elements finite on both sides."""
    disagreements, notes = [], []
    # An all-zero side has no direction or ranking: only the magnitude checks below judge it.
    if c.max_abs_ref > 0 and c.max_abs_test > 0:
        cosine_min = min(COSINE_MIN, 1 - c.rtol ** 2 / 2)
        if c.cosine < cosine_min:
            disagreements.append(f"cosine {c.cosine:.6f} < {cosine_min:g}")
        if c.top1_agreement is not None:
            margin = max(NEAR_TIE_FRACTION, 2 * c.rtol)
            checks = [(1, c.top1_agreement)] + ([(c.top_k, c.topk_agreement)] if c.top_k > 1 else [])
            for k, agreement in checks:
                if agreement == 1:
                    continue
                misses = decisive_topk_misses(ref, out, k, margin)
                if misses:
                    disagreements.append(f"top-{k} agreement {agreement:.0%} ({misses} of {len(ref)} row(s) rank a "
                                         f"class the reference puts clearly lower, beyond a {margin:.0%} near-tie)")
                    break  # a top-1 disagreement already says what a top-k one would
                notes.append(f"top-{k} agreement {agreement:.0%} on near-ties only (within {margin:.0%} of the row's "
                             "largest |value|)")
        floor, rel_max = SIGNIFICANT_FRACTION * c.max_abs_ref, max(SIGNIFICANT_REL_MAX, c.rtol)
        # No element at or above the floor can exceed max |err| / floor: skip the pass when that is within the bar.
        worst = float(np.where(abs_ref >= floor, rel, 0.0).max()) if c.max_abs > rel_max * floor else 0.0
        if worst > rel_max:
            disagreements.append(f"relative error {worst:.3g} > {rel_max:g} on an element with |ref| >= "
                                 f"{SIGNIFICANT_FRACTION:.0%} of the largest ({c.max_abs_ref:.3g})")
    scale = max(c.max_abs_ref, c.max_abs_test)
    tiny = scale < MAGNITUDE_FACTOR * c.atol
    if disagreements:
        context = (f"all values are below {MAGNITUDE_FACTOR:g} × atol, where atol passes any difference" if tiny
                   else "every element is within atol/rtol, which alone would pass it")
        return Verdict.FAIL, "; ".join([*disagreements, context])
    if tiny:
        return Verdict.CANNOT_JUDGE, (
            f"the largest |value| is {c.max_abs_ref:.3g} in the reference and "
            f"{c.max_abs_test:.3g} in the test, below {MAGNITUDE_FACTOR:g} × atol = {MAGNITUDE_FACTOR * c.atol:.3g}, "
            f"so any difference passes atol; use atol below {scale / MAGNITUDE_FACTOR:.3g} or inputs that give "
            "larger outputs")
    total = float(abs_ref.sum())
    under = 0.0
    # Elements under atol hold at most atol each: skip the pass when all of them together could not reach the share.
    if c.atol * abs_ref.size > UNDER_ATOL_SHARE_MAX * total:
        under = float(np.sum(abs_ref, where=abs_ref <= c.atol)) / total
    if under > UNDER_ATOL_SHARE_MAX:
        return Verdict.CANNOT_JUDGE, (
            f"{under:.0%} of the output's magnitude (sum of |ref|) lies in elements with "
            f"|ref| <= atol = {c.atol:g}, which pass atol whatever they hold; use a smaller atol")
    return Verdict.PASS, "; ".join([f"within atol/rtol, cosine {c.cosine:.6f}", *notes])


# Dot products of values outside this range under- or overflow float32; such outputs are rescaled first.
_COSINE_SAFE_SCALE = (1e-12, 1e12)


def _cosine(ref: np.ndarray, out: np.ndarray, scale: float) -> float:
    # BLAS dot products: the fastest pass over the data; clipped because float32 rounding can
    # push identical directions a hair above 1.
    if scale > 0 and not _COSINE_SAFE_SCALE[0] <= scale <= _COSINE_SAFE_SCALE[1]:
        ref, out = ref / scale, out / scale
    norm = math.sqrt(float(np.dot(ref, ref)) * float(np.dot(out, out)))
    if norm == 0:
        return 1.0 if not (ref.any() or out.any()) else 0.0
    return max(-1.0, min(1.0, float(np.dot(ref, out)) / norm))


def topk_agreement(reference: np.ndarray, test: np.ndarray, k: int) -> tuple[float, float]:
    """For [batch, classes] logits: (share of rows with the same arg-max, mean top-k set overlap)."""
    top1 = float(np.mean(reference.argmax(axis=1) == test.argmax(axis=1)))
    ref_top = np.argpartition(-reference, k - 1, axis=1)[:, :k]
    test_top = np.argpartition(-test, k - 1, axis=1)[:, :k]
    overlap = [len(np.intersect1d(r, t, assume_unique=True)) / k for r, t in zip(ref_top, test_top)]
    return top1, float(np.mean(overlap))


def decisive_topk_misses(reference: np.ndarray, test: np.ndarray, k: int, margin_fraction: float) -> int:
    """Rows of [batch, classes] logits whose test top-k holds a class the reference ranks clearly lower:
    below the reference's own k-th value by more than ``margin_fraction`` × the row's largest |value|.
    Closer than that is a near-tie, which small legitimate noise may flip."""
    kth = np.partition(reference, -k, axis=1)[:, -k]
    test_top = np.argpartition(-test, k - 1, axis=1)[:, :k]
    margin = margin_fraction * np.abs(reference).max(axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf for rows holding matching infinities: never a miss
        below = np.take_along_axis(reference, test_top, axis=1) < (kth - margin)[:, None]
    return int(np.count_nonzero(below.any(axis=1)))


def abs_error(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """|test - ref| as float32, NaN where either side is NaN (for plots)."""
    return np.abs(np.asarray(test, np.float32) - np.asarray(reference, np.float32))


def error_histogram(error: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Counts over log10(|error|) bins (errors span decades); exact zeros and non-finite values are left out."""
    values = error[np.isfinite(error) & (error > 0)]
    if values.size == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    logs = np.log10(values, dtype=np.float64)
    low, high = float(logs.min()), float(logs.max())
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    return np.histogram(logs, bins=bins, range=(low, high))


def error_heatmap(error: np.ndarray) -> np.ndarray | None:
    """A 2-D map of |error| for 2-D and 4-D outputs (4-D: the first item, max over channels); else None."""
    if error.ndim == 2:
        return error
    if error.ndim == 4:
        return np.nanmax(error[0], axis=0) if error.shape[1] > 0 else None
    return None
