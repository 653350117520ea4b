"""Will a build fit in memory? An estimate made before the builder starts, instead of swapping the machine to a halt.

TensorRT's builder reads the weights, keeps a working copy of them while it optimizes, and
serializes an engine about as large as the weights (a model built at its own precision); on top
comes its own working set (libraries, tactic buffers). Measured with TensorRT-RTX 1.7 on the CPU
(``benchmarks/bench_large.py``, the raw API): 1.70 GB for 0.50 GB of weights, 4.68 GB for 1.49 GB,
9.22 GB for 3.0 GB. So a build needs about ``3 × weights + BUILDER_BASELINE``. What the machine
has is psutil's "available" memory (what can be given to a process without swapping), or the
limit in ``TRT_WORKBENCH_MEMORY_LIMIT`` (bytes, or with a K/M/G suffix) when set: for machines whose
other work must keep its memory, and for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel

BUILDER_BASELINE = 256 << 20
# The weights as TensorRT reads them, the builder's working copy, the engine.
WEIGHT_COPIES = 3
MEMORY_LIMIT_VARIABLE = "TRT_WORKBENCH_MEMORY_LIMIT"
_SUFFIXES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _gb(count: int) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e9 else f"{count / 1e6:.0f} MB"


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    baseline: int
    available: int
    available_source: str

    @property
    def needed(self) -> int:
        return WEIGHT_COPIES * self.weights + self.baseline

    @property
    def fits(self) -> bool:
        return self.needed <= self.available

    def describe(self) -> str:
        return (f"needs about {_gb(self.needed)} ({WEIGHT_COPIES} × the weights' {_gb(self.weights)}: TensorRT's read "
                f"of them, the builder's working copy and the engine; + {_gb(self.baseline)} for the builder); "
                f"{_gb(self.available)} {self.available_source}")

    def to_dict(self) -> dict:
        return {"needed": self.needed, "weights": self.weights, "baseline": self.baseline,
                "available": self.available, "available_source": self.available_source, "fits": self.fits}


def _parse_limit(text: str) -> int:
    text = text.strip().lower().removesuffix("b")
    factor = _SUFFIXES.get(text[-1:], 1)
    try:
        return int(float(text[:-1] if factor > 1 else text) * factor)
    except ValueError as exc:
        raise WorkbenchError(f"{MEMORY_LIMIT_VARIABLE}={text!r} is not a size.",
                             "Write bytes or a size with K, M or G, e.g. 8G.") from exc


def available_memory() -> tuple[int, str]:
    """(bytes, where the number comes from)."""
    limit = os.environ.get(MEMORY_LIMIT_VARIABLE)
    if limit:
        return _parse_limit(limit), f"allowed by {MEMORY_LIMIT_VARIABLE}"
    import psutil

    return psutil.virtual_memory().available, "available on this machine"


def estimate_build_memory(model: LoadedModel) -> MemoryEstimate:
    weights = model.summary().parameter_bytes
    available, source = available_memory()
    return MemoryEstimate(weights, BUILDER_BASELINE, available, source)


class NotEnoughMemory(WorkbenchError):
    def __init__(self, estimate: MemoryEstimate, what: str):
        super().__init__(f"{what} would not fit in memory: it {estimate.describe()}.",
                         "Close other programs, build on a machine with more memory, or build anyway "
                         "(--ignore-memory-check; in the window: Build ▸ Ignore the memory check), accepting that "
                         "the machine may swap.", str(estimate.to_dict()))
        self.estimate = estimate


def check_build_memory(model: LoadedModel, what: str = "The build") -> MemoryEstimate:
    """The estimate; raises ``NotEnoughMemory`` when the build would not fit."""
    estimate = estimate_build_memory(model)
    if not estimate.fits:
        raise NotEnoughMemory(estimate, what)
    return estimate
