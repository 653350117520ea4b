"""Whole-process ``trt-workbench analyze MODEL --json`` vs ``polygraphy inspect capability MODEL``.

Both run the TensorRT-RTX ONNX parser's capability check on the same file, each in a fresh process
(interpreter start, imports, reading the model, the parse, the output), as a user runs them.
Baseline: Polygraphy (a dev dependency) with ``POLYGRAPHY_USE_TENSORRT_RTX=1``, run in a throwaway
folder (it writes its capability dumps there). Measured per run with ``os.wait4``: wall time and
the child's peak RSS. Runs alternate between the two commands; medians are compared.
Goal: ours/Polygraphy <= 1.0 on both time and peak memory.

Run: .venv/bin/python benchmarks/bench_cli.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_RUNS = 7
SMALL_MODEL = ROOT / "tests" / "corpus" / "text_detector_p2o.onnx"
BIN = Path(sys.executable).parent


def run_once(command: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one whole process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # analyze exits 1 when it finds problems
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # Linux reports kilobytes


def measure(model: Path, runs: int) -> dict:
    env = {**os.environ, "POLYGRAPHY_USE_TENSORRT_RTX": "1", "PYTHONPATH": str(ROOT)}
    commands = {
        "workbench": [sys.executable, "-m", "workbench.cli", "analyze", str(model), "--json", "--backend",
                      "tensorrt-rtx"],
        "polygraphy": [str(BIN / "polygraphy"), "inspect", "capability", str(model)],
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as scratch:
        for command in commands.values():  # one warm-up each: page cache, .pyc files
            run_once(command, Path(scratch), env)
        for _ in range(runs):
            for name, command in commands.items():
                samples[name].append(run_once(command, Path(scratch), env))
    return {name: (statistics.median(t for t, _ in runs_), statistics.median(m for _, m in runs_))
            for name, runs_ in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        resnet = Path(folder) / "resnet50.onnx"
        # Written by a child: a child forked from a parent holding the weights would count them in its peak RSS.
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from benchmarks.resnet import write_resnet50; write_resnet50(Path(sys.argv[1]))",
                        str(resnet)], cwd=ROOT, check=True)
        models = {"ResNet-50-sized": resnet, "small": SMALL_MODEL}
        for label, model in models.items():
            result = measure(model, args.runs)
            (ours_s, ours_mb), (base_s, base_mb) = result["workbench"], result["polygraphy"]
            size_mb = model.stat().st_size / 2**20
            print(f"{label} ({model.name}, {size_mb:.1f} MiB), median of {args.runs} runs:")
            print(f"  polygraphy inspect capability: {base_s:.3f} s, peak RSS {base_mb:.0f} MiB")
            print(f"  trt-workbench analyze --json:  {ours_s:.3f} s, peak RSS {ours_mb:.0f} MiB")
            print(f"  ratio ours/polygraphy: time {ours_s / base_s:.2f}x, peak memory {ours_mb / base_mb:.2f}x"
                  f"  (goal <= 1.0 on both)")


if __name__ == "__main__":
    main()
