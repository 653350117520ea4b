"""How responsive the window stays while a ~100 MB model is opened and analysed.

A 10 ms QTimer ticks on the GUI thread; the longest gap between ticks is the worst freeze the user
would feel. Two runs in the same process: the baseline runs the plain path (``load_model`` +
``analyze_support``) in a worker *thread*; the app's path loads and analyses through
``ModelLoader`` (TensorRT in a child process, the window's copy read without its weights).
Run: ``xvfb-run -a .venv/bin/python benchmarks/bench_ui_responsiveness.py [--mb 1500]`` (goal: max gap ≤ 50 ms;
``--mb`` sets the model's size, e.g. 1500 for the large-model goal).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_MB = 100
TICK_MS = 10


def make_model(path: Path, target_mb: int = TARGET_MB) -> None:
    layers = max(1, target_mb // 4)  # 1024×1024 float32 weights are 4 MB each
    rng = np.random.default_rng(0)
    weights, nodes, previous = [], [], "x"
    for i in range(layers):
        weights.append(numpy_helper.from_array(rng.random((1024, 1024), dtype=np.float32), f"w{i}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"h{i}"], name=f"matmul_{i}"))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"], name=f"relu_{i}"))
        previous = f"r{i}"
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1024])],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, ["batch", 1024])], weights)
    onnx.save(helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 17)]), path)


def measure(app, start, is_done) -> tuple[float, float]:
    """(longest gap between 10 ms ticks in ms, seconds until done) while ``start()``'s work runs."""
    from PySide6.QtCore import QTimer

    gaps, last = [], [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=TICK_MS)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    start()
    while not is_done():
        app.processEvents()
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    timer.stop()
    return max(gaps) * 1000, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=TARGET_MB, help="the model's size in MB")
    args = parser.parse_args()
    from workbench.ui.app import prepare_qt

    prepare_qt()
    from PySide6.QtWidgets import QApplication

    from workbench.core.analysis.background import analysis_child
    from workbench.core.runtime import load_backend
    from workbench.ui.loader import ModelLoader
    from workbench.ui.session import Session
    from workbench.ui.tasks import Task

    app = QApplication(sys.argv[:1])
    backend = load_backend()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.onnx"
        make_model(path, args.mb)
        size_mb = path.stat().st_size / 1e6

        session = Session(backend)
        results = []
        baseline = Task(session, session, "benchmark", on_done=results.append)
        baseline_gap, baseline_s = measure(app, lambda: baseline.start(_load_and_analyse, path, backend),
                                           lambda: bool(results))

        child = analysis_child()
        child.start()
        loader = ModelLoader(session, child)
        opened = []
        session.model_changed.connect(opened.append)
        loader.open(path)  # warm-up: the child's first TensorRT import is not what we measure
        while loader.busy or not opened:
            app.processEvents()
            time.sleep(0.001)
        opened.clear()
        gap, seconds = measure(app, lambda: loader.open(path), lambda: bool(opened) and not loader.busy)
        child.close()

    print(f"model: {size_mb:.0f} MB, {len(session.model.proto.graph.node)} nodes")
    print(f"baseline (load + analysis in a worker thread): max gap {baseline_gap:6.0f} ms, "
          f"load+analysis {baseline_s:5.2f} s")
    print(f"app (child process + weight-free read):       max gap {gap:6.0f} ms, load+analysis {seconds:5.2f} s")
    print(f"max gap ratio app/baseline: {gap / baseline_gap:.2f}; time ratio app/baseline: {seconds / baseline_s:.2f}; "
          f"goal max gap <= 50 ms: {'met' if gap <= 50 else 'NOT met'}")


def _load_and_analyse(path, backend, progress, cancel):
    """The baseline: the plain path, in a worker thread of this process."""
    from workbench.core.analysis.support import analyze_support
    from workbench.core.model.loading import load_model

    return analyze_support(load_model(path), backend)


if __name__ == "__main__":
    main()
