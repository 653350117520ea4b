"""Load + summary + support analysis of a ResNet-50-sized model vs the raw calls, in one run.

Baseline (a): read the file, decode it with onnx, and call the raw TensorRT parser's
``supports_model_v2``. Ours (b): ``load_model`` + ``summary`` + ``analyze_support``.
Goal: (b)/(a) <= 1.2. Peak RSS of (b) in a fresh process, as a multiple of the model file's size
(growth over the process's RSS after imports; goal <= 3).

Run: .venv/bin/python benchmarks/bench_analyze.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.resources import DEFAULT_SAMPLE  # noqa: E402

REPEATS = 7


def raw_parse(path: Path, backend) -> float:
    import onnx

    started = time.perf_counter()
    data = path.read_bytes()
    model = onnx.load_from_string(data)  # kept alive during the parse, as any script using the model does
    logger = backend.logger()
    _builder, _network, parser = backend.create_builder_network(logger)
    parser.supports_model_v2(data)
    elapsed = time.perf_counter() - started
    del model
    return elapsed


def workbench_analyze(path: Path, backend) -> float:
    from workbench.core.analysis.support import analyze_support
    from workbench.core.model.loading import load_model

    started = time.perf_counter()
    model = load_model(path)
    model.summary()
    analyze_support(model, backend)
    return time.perf_counter() - started


def measure_peak_rss(path: Path) -> dict:
    """Run in a fresh interpreter; the kernel's peak-RSS counter is reset just before the analysis.

    Writing 5 to /proc/self/clear_refs resets VmHWM, so the library-loading peak is not counted.
    """
    code = f"""
import json, re, sys
def status(key):
    return int(re.search(key + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
sys.path.insert(0, {str(ROOT)!r})
from workbench.core.runtime import load_backend
from workbench.core.analysis.support import analyze_support
from workbench.core.model.loading import load_model
backend = load_backend()
# Load TensorRT's libraries and every lazily imported module on a small sample before the baseline,
# so the growth measured is what this model costs.
analyze_support(load_model({str(DEFAULT_SAMPLE)!r}), backend)
base = status("VmRSS")
open("/proc/self/clear_refs", "w").write("5")
model = load_model({str(path)!r}); model.summary(); analyze_support(model, backend)
peak = status("VmHWM")
print(json.dumps({{"base_kb": base, "peak_kb": peak}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    from benchmarks.resnet import write_resnet50
    from workbench.core.runtime import load_backend

    backend = load_backend()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_resnet50(Path(tmp) / "resnet50.onnx")
        size_mb = path.stat().st_size / 1e6
        print(f"model: ResNet-50-shaped, {size_mb:.1f} MB, backend {backend.name} {backend.version}")
        raw_parse(path, backend), workbench_analyze(path, backend)  # warm caches and lazy imports
        raw, ours = [], []
        for _ in range(REPEATS):  # interleaved, so drift affects both alike
            raw.append(raw_parse(path, backend))
            ours.append(workbench_analyze(path, backend))
        raw_s, ours_s = statistics.median(raw), statistics.median(ours)
        print(f"(a) raw onnx decode + supports_model_v2: {raw_s:.3f} s (median of {REPEATS})")
        print(f"(b) load_model + summary + analyze_support: {ours_s:.3f} s (median of {REPEATS})")
        print(f"ratio (b)/(a): {ours_s / raw_s:.2f}  (goal <= 1.2)")
        rss = measure_peak_rss(path)
        growth_mb = (rss["peak_kb"] - rss["base_kb"]) / 1024
        print(f"peak RSS growth during (b): {growth_mb:.0f} MB = {growth_mb / size_mb:.2f} x model size "
              f"(goal <= 3; process peak {rss['peak_kb'] / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
