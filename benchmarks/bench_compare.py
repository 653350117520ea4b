"""Speed of the comparison: metrics vs a raw NumPy baseline, and the timing harness vs a plain loop.

1. ``compare_arrays`` over 4 outputs of 10 M float32 elements each, against the NumPy a person
   would write for the same figures (max/mean abs and rel error, cosine, count outside atol/rtol)
   without our NaN/Inf rules, zero handling or top-k. Goal: ratio <= 1.5.
2. ``time_runner`` around ``OnnxruntimeRunner`` vs a plain ``session.run`` loop on the same
   session and inputs. Goal: ratio <= 1.05.

Both sides are measured in the same run, alternating, and the medians are compared.
Run: ``.venv/bin/python benchmarks/bench_compare.py``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.compare_models import chain_model  # noqa: E402
from workbench.core.compare.metrics import compare_arrays  # noqa: E402
from workbench.core.model.loading import LoadedModel  # noqa: E402
from workbench.core.runners import OnnxruntimeRunner  # noqa: E402
from workbench.core.compare.timing import time_runner  # noqa: E402

OUTPUTS, ELEMENTS, REPEATS = 4, 10_000_000, 5
ATOL = RTOL = 1e-5


def numpy_baseline(ref: np.ndarray, out: np.ndarray) -> tuple:
    diff = np.abs(out - ref)
    abs_ref = np.abs(ref)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = diff / abs_ref
    outside = np.count_nonzero((diff > ATOL) & (rel > RTOL))
    cosine = np.dot(ref, out) / np.sqrt(np.dot(ref, ref) * np.dot(out, out))
    return diff.max(), diff.mean(), rel.max(), rel.mean(), outside, cosine


def bench_metrics() -> float:
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(OUTPUTS):
        ref = rng.standard_normal(ELEMENTS, dtype=np.float32).reshape(10, 100, 100, 100)
        pairs.append((ref, ref + rng.standard_normal(ref.shape, dtype=np.float32) * np.float32(1e-4)))
    ours, baseline = [], []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for ref, out in pairs:
            numpy_baseline(ref.ravel(), out.ravel())
        baseline.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i, (ref, out) in enumerate(pairs):
            compare_arrays(f"out{i}", ref, out)
        ours.append(time.perf_counter() - start)
    ratio = statistics.median(ours) / statistics.median(baseline)
    print(f"metrics, {OUTPUTS} x {ELEMENTS / 1e6:.0f}M float32 outputs: compare_arrays "
          f"{statistics.median(ours) * 1e3:.0f} ms, raw NumPy {statistics.median(baseline) * 1e3:.0f} ms "
          f"(median of {REPEATS}) -> ratio {ratio:.2f} (goal <= 1.5)")
    return ratio


def bench_timing(runs: int = 100, rounds: int = 21) -> float:
    model = LoadedModel.from_proto(chain_model(16, shape=(4, 16, 32, 32)))
    runner = OnnxruntimeRunner(model)
    feeds = {"x": np.random.default_rng(1).random((4, 16, 32, 32), dtype=np.float32)}
    session, names = runner.session, runner.output_names

    def plain_loop() -> float:
        start = time.perf_counter()
        for _ in range(runs):
            session.run(names, feeds)
        return time.perf_counter() - start

    def harness() -> float:
        start = time.perf_counter()
        time_runner(runner, feeds, runs=runs, warmup=0)
        return time.perf_counter() - start

    plain_loop()
    ratios, totals = [], {"harness": [], "plain": []}
    for i in range(rounds):
        # Paired rounds in alternating order: the machine's load drifts less within a pair.
        first, second = (harness, plain_loop) if i % 2 else (plain_loop, harness)
        times = {first: first(), second: second()}
        totals["harness"].append(times[harness])
        totals["plain"].append(times[plain_loop])
        ratios.append(times[harness] / times[plain_loop])
    ratio = statistics.median(ratios)
    print(f"timing harness, {runs} runs x {rounds} paired rounds: time_runner "
          f"{statistics.median(totals['harness']) * 1e3:.0f} ms, plain session.run loop "
          f"{statistics.median(totals['plain']) * 1e3:.0f} ms per round -> median ratio {ratio:.3f} (goal <= 1.05)")
    return ratio


if __name__ == "__main__":
    bench_metrics()
    bench_timing()
