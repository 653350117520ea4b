"""Trial build and repair search on the sample models, against a raw TensorRT API build of the same model.

Prints, per model: the time from opening to the first build-stage problem (load + parser analysis +
trial build, as the window does it), the trial build alone and its ratio to a raw in-process API
build (parse, suggested profile, build), the repair search's time and outcome, and how long a
Cancel takes to stop a running repair search.

Run: ``.venv/bin/python benchmarks/bench_repair.py``. Goals: trial build ≤ 2× the raw build; cancel ≤ 2 s.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.raw_tensorrt import raw_build  # noqa: E402
from workbench.core.analysis.support import analyze_support  # noqa: E402
from workbench.core.runtime import load_backend  # noqa: E402
from workbench.core.model.loading import load_model  # noqa: E402
from workbench.core.progress import Cancelled, CancelToken  # noqa: E402
from workbench.core.repair import repair_model  # noqa: E402
from workbench.core.build.trial import trial_build, trial_profiles  # noqa: E402
from workbench.resources import SAMPLES_DIR  # noqa: E402

MODELS = ("nms_detector", "clean_cnn", "if_scalar", "groupnorm")
REPEATS = 3


def open_to_first_build_problem(backend, path: Path) -> tuple[float, float, str]:
    started = time.perf_counter()
    model = load_model(path)
    analyze_support(model, backend)
    trial = trial_build(model, backend=backend)
    first = next((p for p in trial.triage_problems() if p.severity == "error"), None)
    return time.perf_counter() - started, trial.seconds, first.kind if first else "-"


def cancel_latency(backend) -> float:
    token = CancelToken()
    requested: list[float] = []

    def progress(phase, _fraction=None):
        if phase.startswith("Trying") and not requested:
            threading.Timer(0.05, lambda: (requested.append(time.perf_counter()), token.cancel())).start()

    try:
        repair_model(load_model(SAMPLES_DIR / "nms_detector.onnx"), backend=backend, progress=progress, cancel=token)
    except Cancelled:
        return time.perf_counter() - requested[0]
    return float("nan")  # finished before the cancel arrived


def main() -> None:
    backend = load_backend()
    raw_build(backend, load_model(SAMPLES_DIR / "groupnorm.onnx"), [])  # warm TensorRT in this process
    trial_build(load_model(SAMPLES_DIR / "groupnorm.onnx"), backend=backend)
    print(f"{backend.name} {backend.version}; median of {REPEATS} runs")
    print(f"{'model':14} {'open→problem':>13} {'trial':>8} {'raw API':>8} {'ratio':>6}  first problem   "
          f"{'repair':>8}  outcome")
    for name in MODELS:
        path = SAMPLES_DIR / f"{name}.onnx"
        model = load_model(path)
        opened = [open_to_first_build_problem(backend, path) for _ in range(REPEATS)]
        raw = statistics.median(raw_build(backend, model, trial_profiles(model)[0]) for _ in range(REPEATS))
        to_problem = statistics.median(o[0] for o in opened)
        trial = statistics.median(o[1] for o in opened)
        repairs = [repair_model(model, backend=backend) for _ in range(REPEATS)]
        repair_seconds = statistics.median(r.seconds for r in repairs)
        outcome = repairs[0].status + (": " + " → ".join(s.title for s in repairs[0].steps) if repairs[0].steps else "")
        print(f"{name:14} {to_problem:12.3f}s {trial:7.3f}s {raw:7.3f}s {trial / raw:5.2f}x  {opened[0][2]:15} "
              f"{repair_seconds:7.3f}s  {outcome}")
    latencies = [cancel_latency(backend) for _ in range(REPEATS)]
    print(f"cancel latency (repair search on nms_detector, cancelled mid-candidate): median "
          f"{statistics.median(latencies):.3f} s, max {max(latencies):.3f} s")


if __name__ == "__main__":
    main()
