"""Comparators as functions over arrays: how far ``test`` is from ``reference``.

Defaults follow Polygraphy's (atol 1e-5, rtol 1e-5, an element passes when
|test - ref| <= atol + rtol * |ref|).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5


@dataclass
class OutputComparison:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    max_rel: float
    mean_rel: float
    cosine: float
    outside_fraction: float  # fraction of elements outside atol + rtol*|ref|
    nan_ref: int
    nan_test: int
    inf_ref: int
    inf_test: int
    passed: bool
    message: str = ""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape)
        return data


def compare_arrays(name: str, reference: np.ndarray, test: np.ndarray, atol: float = DEFAULT_ATOL,
                   rtol: float = DEFAULT_RTOL) -> OutputComparison:
    reference = np.asarray(reference)
    test = np.asarray(test)
    if reference.shape != test.shape:
        return OutputComparison(name, tuple(test.shape), np.inf, np.inf, np.inf, np.inf, 0.0, 1.0, 0, 0, 0, 0, False,
                                f"shape mismatch: reference {list(reference.shape)} vs {list(test.shape)}")
    ref = reference.astype(np.float64, copy=False)
    out = test.astype(np.float64, copy=False)
    nan_ref, nan_test = int(np.isnan(ref).sum()), int(np.isnan(out).sum())
    inf_ref, inf_test = int(np.isinf(ref).sum()), int(np.isinf(out).sum())
    # Matching NaNs / same-signed infinities count as equal; everything else is measured.
    same_special = (np.isnan(ref) & np.isnan(out)) | (np.isinf(ref) & (ref == out))
    diff = np.where(same_special, 0.0, np.abs(out - ref))
    diff = np.nan_to_num(diff, nan=np.inf)
    abs_ref = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Relative error is undefined where the reference is zero; those elements are judged by atol.
        rel = np.where(abs_ref > 0, diff / abs_ref, np.where(diff > 0, np.inf, 0.0))
    outside = diff > atol + rtol * np.nan_to_num(abs_ref, posinf=0.0)
    size = max(diff.size, 1)
    finite = ~(np.isnan(ref) | np.isnan(out) | np.isinf(ref) | np.isinf(out))
    r, t = ref[finite].ravel(), out[finite].ravel()
    norm = float(np.linalg.norm(r) * np.linalg.norm(t))
    cosine = float(np.dot(r, t) / norm) if norm > 0 else float(np.array_equal(r, t))
    passed = not outside.any()
    return OutputComparison(
        name=name, shape=tuple(test.shape),
        max_abs=float(diff.max()) if diff.size else 0.0, mean_abs=float(diff.mean()) if diff.size else 0.0,
        max_rel=float(rel.max()) if rel.size else 0.0,
        mean_rel=float(np.mean(rel[np.isfinite(rel)])) if np.isfinite(rel).any() else float(rel.size and np.inf),
        cosine=cosine, outside_fraction=float(outside.sum() / size),
        nan_ref=nan_ref, nan_test=nan_test, inf_ref=inf_ref, inf_test=inf_test, passed=passed,
    )
