"""Large models at the memory floor: time and peak memory of whole processes on MatMul stacks.

Models (generated into a temporary folder, deleted afterwards): MatMul stacks of 2048×2048 float32
weights (16 MiB each) with a static input, at ~0.1, 0.5 and 1.5 GB with inline weights and 3 GB
with external data. Sizes that do not fit the temporary folder's free disk are skipped, and said so.

Per model, each command runs as a fresh process (interpreter start, imports, reading, the work):
- ``trt-workbench analyze --json`` vs ``polygraphy inspect capability`` (POLYGRAPHY_USE_TENSORRT_RTX=1)
- ``trt-workbench analyze --build --json`` vs the raw API (``parse_from_file`` + ``build_serialized_network``
  in a script of its own, the same ``builder`` floor without any tool around it)
- the window (``main.py MODEL --screenshot``: open, analysis, trial build, graph page), its own process
  and the sum over all its processes (analysis child, build child, QtWebEngine's processes).
Memory is sampled every 20 ms with psutil over the process tree: "peak" is the largest single process,
"tree" the largest sum over the tree. Ratios: workbench / Polygraphy, analyze --build / raw API, and
peak / model size (goals: analyze <= 1.0x Polygraphy at 0.5 and 1.5 GB; trial build peak <= 2x the
model; window <= 1.2x and whole app <= 2.5x the model).

Run: .venv/bin/python benchmarks/bench_large.py [--sizes 0.1,0.5,1.5,3x] [--no-window]
     ("x" marks external data; the window needs a display or xvfb-run)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import psutil
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WIDTH = 2048
LAYER_BYTES = WIDTH * WIDTH * 4
SAMPLE_S = 0.02
RAW_BUILD = """
import sys, time
import tensorrt_rtx as trt
logger = trt.Logger(trt.Logger.ERROR)
builder = trt.Builder(logger)
network = builder.create_network(0)
parser = trt.OnnxParser(network, logger)
assert parser.parse_from_file(sys.argv[1]), [parser.get_error(i).desc() for i in range(parser.num_errors)]
engine = builder.build_serialized_network(network, builder.create_builder_config())
assert engine is not None
"""


def make_model(folder: Path, size_gb: float, external: bool) -> Path:
    layers = max(1, round(size_gb * 1e9 / LAYER_BYTES))
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array((rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) * 0.02), f"w{i}")
               for i in range(layers)]
    nodes, current = [], "x"
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [f"h{i}"], name=f"matmul{i}"))
        current = f"h{i}"
    graph = helper.make_graph(nodes, "stack", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, WIDTH])],
                              [helper.make_tensor_value_info(current, TensorProto.FLOAT, [1, WIDTH])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / f"stack_{size_gb:g}gb{'_external' if external else ''}.onnx"
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data")
    else:
        onnx.save_model(model, path)
    return path


def run_measured(command: list[str], cwd: Path, env: dict) -> tuple[float, float, float, float]:
    """(wall seconds, the process's own peak RSS, the largest process's, the largest sum over its tree)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    own = peak = tree = 0
    done = threading.Event()

    def sample():
        nonlocal own, peak, tree
        while not done.is_set():
            try:
                members = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            sizes = []
            for member in members:
                try:
                    sizes.append(member.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            if sizes and members[0] is root:
                own = max(own, sizes[0])
            if sizes:
                peak, tree = max(peak, max(sizes)), max(tree, sum(sizes))
            time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = process.communicate()
    done.set()
    sampler.join()
    elapsed = time.perf_counter() - started
    if process.returncode not in (0, 1):  # analyze exits 1 when it finds problems
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{err.decode()[-2000:]}")
    return elapsed, own, peak, tree


def commands_for(model: Path, shot: Path, window: bool) -> dict[str, list[str]]:
    commands = {
        "analyze": [sys.executable, "-m", "workbench.cli", "analyze", str(model), "--json", "--backend",
                    "tensorrt-rtx"],
        "polygraphy": [str(BIN / "polygraphy"), "inspect", "capability", str(model)],
        "analyze --build": [sys.executable, "-m", "workbench.cli", "analyze", str(model), "--build", "--json",
                            "--backend", "tensorrt-rtx"],
        "raw parse+build": [sys.executable, "-c", RAW_BUILD, str(model)],
    }
    if window:
        prefix = [] if os.environ.get("DISPLAY") else ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24"]
        commands["window"] = prefix + [sys.executable, str(ROOT / "main.py"), str(model), "--screenshot", str(shot),
                                       "--timeout", "600"]
    return commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.1,0.5,1.5,3x", help="GB per model; a trailing x: external data")
    parser.add_argument("--no-window", action="store_true", help="skip the window (no display needed)")
    args = parser.parse_args()
    env = {**os.environ, "POLYGRAPHY_USE_TENSORRT_RTX": "1", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="bench-large-") as scratch:
        folder = Path(scratch)
        for spec in args.sizes.split(","):
            external = spec.endswith("x")
            size_gb = float(spec.rstrip("x"))
            free = shutil.disk_usage(folder).free
            if free < size_gb * 1e9 * 2.5:  # the model plus the engine the raw build keeps in memory only
                print(f"{spec}: skipped, {free / 1e9:.1f} GB free in {folder} is not enough")
                continue
            model = make_model(folder, size_gb, external)
            os.sync()  # the first measured command must not pay for writing the model back to disk
            model_bytes = sum(f.stat().st_size for f in folder.iterdir() if f.name.startswith(model.name))
            print(f"\n== {model.name}: {model_bytes / 1e9:.2f} GB on disk", flush=True)
            results = {}
            for name, command in commands_for(model, folder / "shot.png", not args.no_window).items():
                results[name] = run_measured(command, folder, env)
                seconds, own, peak, tree = results[name]
                print(f"  {name:16} {seconds:7.2f} s  own {own / 1e9:5.2f} GB ({own / model_bytes:4.2f}x model)  "
                      f"largest process {peak / 1e9:5.2f} GB ({peak / model_bytes:4.2f}x)  "
                      f"all processes {tree / 1e9:5.2f} GB ({tree / model_bytes:4.2f}x)", flush=True)
            ours, theirs = results["analyze"], results["polygraphy"]
            print(f"  analyze / polygraphy: time {ours[0] / theirs[0]:.2f}x, peak memory {ours[2] / theirs[2]:.2f}x")
            build, raw = results["analyze --build"], results["raw parse+build"]
            print(f"  analyze --build / raw API: time {build[0] / raw[0]:.2f}x, peak memory {build[2] / raw[2]:.2f}x;"
                  f" trial build's largest process {build[2] / model_bytes:.2f}x the model")
            if "window" in results:
                window = results["window"]
                print(f"  window: its own process {window[1] / model_bytes:.2f}x the model, all processes "
                      f"{window[3] / model_bytes:.2f}x")
            for path in folder.iterdir():
                if path.is_file():
                    path.unlink()


if __name__ == "__main__":
    main()
