"""How fast problems appear on the graph of a large model, and how responsive the window stays meanwhile.

A ~3,000-node model (a chain of small 1×1 Conv + Relu blocks, with a Resize TensorRT rejects every
REJECTED_EVERY blocks so the parser reports errors and unsupported nodes) is analysed first; then
we time, on the GUI thread with a 10 ms QTimer measuring the longest gap between ticks:

- baseline: a plain QWebEngineView loading the same Netron server, until Netron has laid the graph
  out (``window.__view__.target`` set) — what showing the graph costs without marks;
- app: ``session.set_model(model, report)`` (the analysis has finished) until the graph view reports
  the marks painted on the laid-out graph (``GraphView.marks_shown``);
- re-mark: new problems for the already shown graph (what a trial build's result does) until painted.

Run: ``xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python benchmarks/bench_graph_marks.py``
(goals: app/baseline close to 1, max gap ≤ 50 ms). The longest gaps come from QtWebEngine compositing
the page on the GUI thread (software rendering under Xvfb): the baseline has them too, so the script
also prints the GUI-thread time of our own part (computing the marks and sending them to the page).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_ui_responsiveness import measure  # noqa: E402

BLOCKS = 1500  # Conv + Relu each: 3,000 nodes, plus the Resizes
CHANNELS = 4
REJECTED_EVERY = 150
POLL_MS = 20
LAID_OUT_SCRIPT = "Boolean(window.__view__ && window.__view__.target && document.querySelector('g.node'))"


def make_model(path: Path) -> int:
    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "x"
    scales = numpy_helper.from_array(np.ones(4, dtype=np.float32), "scales")
    for i in range(BLOCKS):
        weights.append(numpy_helper.from_array(rng.random((CHANNELS, CHANNELS, 1, 1), dtype=np.float32), f"w{i}"))
        nodes.append(helper.make_node("Conv", [previous, f"w{i}"], [f"c{i}"], name=f"conv_{i}"))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu_{i}"))
        previous = f"r{i}"
        if i % REJECTED_EVERY == REJECTED_EVERY - 1:
            nodes.append(helper.make_node("Resize", [previous, "", "scales"], [f"z{i}"], name=f"resize_{i}",
                                          mode="linear", coordinate_transformation_mode="half_pixel_symmetric"))
            previous = f"z{i}"
    shape = [1, CHANNELS, 8, 8]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(previous, TensorProto.FLOAT, shape)], weights + [scales])
    onnx.save(helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 19)]), path)
    return len(nodes)


def wait_laid_out(page) -> callable:
    """A done() for measure(): polls the page until Netron has laid the graph out."""
    state = {"done": False, "asked": 0.0}

    def done() -> bool:
        now = time.perf_counter()
        if not state["done"] and now - state["asked"] > POLL_MS / 1000:
            state["asked"] = now
            page.runJavaScript(LAID_OUT_SCRIPT, 0, lambda ok: state.update(done=bool(ok) or state["done"]))
        return state["done"]
    return done


def main() -> None:
    from workbench.ui.app import prepare_qt

    prepare_qt()
    from PySide6.QtCore import QUrl
    from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineScript
    from PySide6.QtWebEngineWidgets import QWebEngineView
    from PySide6.QtWidgets import QApplication

    from workbench.core.analysis.support import analyze_support
    from workbench.core.runtime import load_backend
    from workbench.core.model.loading import load_model
    from workbench.core.problems import Problem
    from workbench.ui.graph_view import CONSENT_SCRIPT, GraphView, NetronServer
    from workbench.ui.session import Session

    app = QApplication(sys.argv[:1])
    backend = load_backend()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chain.onnx"
        count = make_model(path)
        model = load_model(path)
        started = time.perf_counter()
        report = analyze_support(model, backend)
        print(f"model: {count} nodes; analysis {time.perf_counter() - started:.1f} s: {len(report.problems)} problems, "
              f"{len(report.unsupported_nodes)} unsupported nodes")

        # Baseline: Netron alone, in a plain web view (warmed up once, so Chromium's start-up is not measured).
        server = NetronServer()
        url = server.serve(model, from_file=True)
        profile = QWebEngineProfile()
        consent = QWebEngineScript()
        consent.setSourceCode(CONSENT_SCRIPT)
        consent.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
        profile.scripts().insert(consent)
        page = QWebEnginePage(profile)
        view = QWebEngineView()
        view.setPage(page)
        view.resize(1200, 800)
        view.show()
        for _run in ("warm-up", "baseline"):
            blank: list[bool] = []
            page.loadFinished.connect(blank.append)
            page.setUrl(QUrl("about:blank"))
            while not blank:  # the previous Netron page is gone
                app.processEvents()
            page.loadFinished.disconnect(blank.append)
            baseline_gap, baseline_s = measure(app, lambda: page.setUrl(QUrl(url)), wait_laid_out(page))
        server.stop()
        view.close()
        page.deleteLater()  # before its profile

        # The app: the analysis has finished; the graph view loads Netron and paints the problems.
        session = Session(backend)
        graph = GraphView(session)
        graph.resize(1200, 800)
        graph.show()
        shown: list[int] = []
        graph.marks_shown.connect(shown.append)
        gap, seconds = measure(app, lambda: session.set_model(model, report, opened=True), lambda: bool(shown))
        marked = shown[-1]

        # Re-mark: new problems on the graph already shown (as when the trial build's result arrives).
        extra = [Problem("bench", "warning", "re-mark", node=f"relu_{i}", op="Relu") for i in range(0, BLOCKS, 10)]
        shown.clear()
        remark_gap, remark_s = measure(app, lambda: session.set_problems("bench", extra), lambda: bool(shown))
        # Our own share of the GUI thread: computing the marks and handing them to the page.
        started = time.perf_counter()
        graph.update_marks(session.problems)
        own_ms = (time.perf_counter() - started) * 1000
        graph.shutdown()

    print(f"baseline (Netron lays the graph out, no marks): max gap {baseline_gap:5.0f} ms, {baseline_s:6.2f} s")
    print(f"app (analysis finished -> marks on the graph):  max gap {gap:5.0f} ms, {seconds:6.2f} s; "
          f"{marked} elements marked")
    print(f"re-mark of the shown graph ({len(extra)} more marks):   max gap {remark_gap:5.0f} ms, {remark_s:6.2f} s; "
          f"{shown[-1]} elements marked")
    print(f"GUI-thread cost of computing and sending {marked} marks (the rest is Chromium painting): {own_ms:.1f} ms")
    print(f"time ratio app/baseline: {seconds / baseline_s:.2f}; max gap ratio app/baseline: {gap / baseline_gap:.2f}; "
          f"goal max gap <= 50 ms: {'met' if max(gap, remark_gap) <= 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
