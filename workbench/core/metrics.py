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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
DEFAULT_TOP_K = 5
HISTOGRAM_BINS = 60


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
        data = {"atol": self.atol, "rtol": self.rtol}
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
    passed: bool
    message: str = ""
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    dtype: str = ""
    # Logits ([batch, classes] outputs): share of rows whose arg-max agrees, and mean overlap of the
    # top-k class sets. None for other outputs.
    top_k: int = 0
    top1_agreement: float | None = None
    topk_agreement: float | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape)
        # JSON has no inf/nan: write them as strings the reader can still parse with float().
        return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v) for k, v in data.items()}


def _working_dtype(*arrays: np.ndarray) -> np.dtype:
    if all(a.dtype in (np.float32, np.float16) for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def compare_arrays(name: str, reference: np.ndarray, test: np.ndarray, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL, *, infinities_compare_equal: bool = False,
                   top_k: int = DEFAULT_TOP_K) -> OutputComparison:
    reference = np.asarray(reference)
    test = np.asarray(test)
    if reference.shape != test.shape:
        return OutputComparison(name, tuple(test.shape), math.inf, math.inf, math.inf, math.inf, 0.0, 1.0, 0, 0, 0, 0,
                                False, f"shape mismatch: reference {list(reference.shape)} vs test {list(test.shape)}",
                                atol, rtol, str(test.dtype))
    if reference.dtype == np.bool_ or test.dtype == np.bool_:
        reference, test = reference.astype(np.uint8), test.astype(np.uint8)
    work = _working_dtype(reference, test)
    ref = reference.astype(work, copy=False).ravel()
    out = test.astype(work, copy=False).ravel()
    size = ref.size
    if size == 0:
        return OutputComparison(name, tuple(test.shape), 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0, 0, 0, 0, True, "empty output",
                                atol, rtol, str(test.dtype))

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

    if finite is None and nonzero is None:
        mean_abs, max_rel, mean_rel = float(diff.mean()), float(rel.max()), float(rel.mean())
        cosine = _cosine(ref, out)
    else:
        keep = finite if nonzero is None else (nonzero if finite is None else finite & nonzero)
        finite_diff = diff if finite is None else diff[finite]
        rel_kept = rel[keep]
        mean_abs = float(finite_diff.mean()) if finite_diff.size else math.inf
        max_rel = float(rel_kept.max()) if rel_kept.size else 0.0
        mean_rel = float(rel_kept.mean()) if rel_kept.size else 0.0
        cosine = _cosine(ref, out) if finite is None else _cosine(ref[finite], out[finite])

    top1 = topk = None
    k = 0
    if top_k and test.ndim == 2 and test.shape[1] >= 2 and np.issubdtype(test.dtype, np.floating):
        k = min(top_k, test.shape[1])
        top1, topk = topk_agreement(reference, test, k)
    return OutputComparison(
        name=name, shape=tuple(test.shape), max_abs=max_abs, mean_abs=mean_abs, max_rel=max_rel, mean_rel=mean_rel,
        cosine=cosine, outside_fraction=outside / size, nan_ref=nan_ref, nan_test=nan_test, inf_ref=inf_ref,
        inf_test=inf_test, passed=outside == 0, atol=atol, rtol=rtol, dtype=str(test.dtype),
        top_k=k, top1_agreement=top1, topk_agreement=topk,
    )


def _cosine(ref: np.ndarray, out: np.ndarray) -> float:
    # BLAS dot products: the fastest pass over the data; clipped because float32 rounding can
    # push identical directions a hair above 1.
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
