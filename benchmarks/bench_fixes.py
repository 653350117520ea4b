"""fold-constants on a ResNet-50-sized model vs `polygraphy surgeon sanitize --fold-constants`.

Both run as command-line tools on the same file in the same run (interpreter start-up included
for both), best of ``--repeat`` runs; the ratio is ours / Polygraphy's (goal ≤ 1.0). The model has
ResNet-50's layer structure and weight count (~25.5 M parameters), with what exporters leave to fold:
every conv weight is scaled by an un-folded BatchNorm factor (Mul of two constants) and the head
flattens through Shape → Gather → Concat → Reshape.

    .venv/bin/python benchmarks/bench_fixes.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.resnet import make_resnet50  # noqa: E402

def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = folder / "resnet50_like.onnx"
        onnx.save_model(make_resnet50(batch=1, foldable=True), source)
        model = onnx.load(source)
        params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
        print(f"model: {len(model.graph.node)} nodes, {params / 1e6:.1f} M parameters, "
              f"{source.stat().st_size / 1e6:.0f} MB")
        ours_cmd = [sys.executable, str(ROOT / "main.py"), "fix", str(source), "--apply", "fold-constants",
                    "-o", str(folder / "ours.onnx"), "--no-parity"]
        theirs_cmd = [str(bin_dir / "polygraphy"), "surgeon", "sanitize", str(source), "--fold-constants",
                      "-o", str(folder / "polygraphy.onnx")]
        ours_times, theirs_times = [], []
        for _ in range(args.repeat):  # interleaved, so drift on this machine affects both alike
            ours_times.append(timed(ours_cmd))
            theirs_times.append(timed(theirs_cmd))
        ours, theirs = min(ours_times), min(theirs_times)
        ours_nodes = len(onnx.load(folder / "ours.onnx", load_external_data=False).graph.node)
        theirs_nodes = len(onnx.load(folder / "polygraphy.onnx", load_external_data=False).graph.node)
    print(f"trt-workbench fix --apply fold-constants : {ours:6.2f} s  → {ours_nodes} nodes")
    print(f"polygraphy surgeon sanitize --fold-constants: {theirs:6.2f} s  → {theirs_nodes} nodes")
    print(f"ratio (ours / polygraphy, best of {args.repeat}): {ours / theirs:.2f}  (goal ≤ 1.0)")


if __name__ == "__main__":
    main()
