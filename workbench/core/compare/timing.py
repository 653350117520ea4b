"""Latency and throughput of a runner on fixed inputs: N timed runs after a warm-up."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from workbench.core.progress import CancelToken, ProgressFn, no_progress

DEFAULT_RUNS = 50
DEFAULT_WARMUP = 5


@dataclass
class Timing:
    label: str
    runs: int
    warmup: int
    batch: int  # first dimension of the first input: samples per inference
    min_ms: float
    median_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    inferences_per_s: float  # runs / total timed seconds

    @property
    def samples_per_s(self) -> float:
        return self.inferences_per_s * self.batch

    def to_dict(self) -> dict:
        return {**asdict(self), "samples_per_s": self.samples_per_s}

    def describe(self) -> str:
        return (f"{self.label}: median {self.median_ms:.3f} ms (min {self.min_ms:.3f}, p90 {self.p90_ms:.3f}, "
                f"p99 {self.p99_ms:.3f}), {self.inferences_per_s:.1f} inferences/s over {self.runs} runs")


def time_runner(runner, feeds: dict[str, np.ndarray], runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP,
                progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> Timing:
    """Time ``runner.run(feeds)``; only the call itself is inside the clock."""
    run, clock = runner.run, time.perf_counter_ns
    for _ in range(warmup):
        run(feeds)
    samples = np.empty(max(runs, 1), dtype=np.int64)
    report_every = max(1, runs // 10)
    for i in range(len(samples)):
        start = clock()
        run(feeds)
        samples[i] = clock() - start
        if i % report_every == 0:
            if cancel is not None:
                cancel.raise_if_cancelled("Timing")
            progress(f"Timing {runner.label}", i / len(samples))
    ms = samples / 1e6
    first = next(iter(feeds.values()), None)
    batch = int(first.shape[0]) if first is not None and first.ndim else 1
    min_ms, median_ms, p90_ms, p99_ms = (float(v) for v in np.percentile(ms, [0, 50, 90, 99]))
    return Timing(runner.label, len(samples), warmup, batch, min_ms, median_ms, p90_ms, p99_ms, float(ms.mean()),
                  float(len(samples) / (ms.sum() / 1e3)) if ms.sum() > 0 else float("inf"))
