"""Build overhead: the same model and settings through ``build_engine`` (child process) and through
the raw TensorRT API in this process, plus the UI event loop's longest gap during a build from the
Build panel, and how long Cancel takes to return.

Run: ``.venv/bin/python benchmarks/bench_build.py`` (QT_QPA_PLATFORM=offscreen is set if no display).
Goals: overhead ratio ≤ 1.1, event-loop gap ≤ 50 ms, cancel ≤ 2 s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from benchmarks.raw_tensorrt import raw_build  # noqa: E402
from tests.build_models import deep_cnn  # noqa: E402
from workbench.core.runtime import load_backend  # noqa: E402
from workbench.core.build.engine import BuildSettings, build_engine  # noqa: E402
from workbench.core.model.loading import LoadedModel  # noqa: E402
from workbench.core.shapes.profiles import Profile, ShapeRange  # noqa: E402
from workbench.core.progress import Cancelled, CancelToken  # noqa: E402

REPEATS = 3
SPARE_STARTUP_SECONDS = 2.0
PROFILE = Profile({"x": ShapeRange((1, 3, 32, 32), (4, 3, 32, 32), (8, 3, 32, 32))})


def workbench_build(backend, model: LoadedModel) -> float:
    started = time.perf_counter()
    result = build_engine(model, BuildSettings(), [PROFILE], "/tmp/bench_workbench.engine", backend=backend)
    assert result.succeeded, result.problems
    return time.perf_counter() - started


def overhead(backend, depth: int) -> None:
    model = LoadedModel.from_proto(deep_cnn(depth))
    workbench_build(backend, model)  # warm-up: starts the spare child, as the app does on its first build
    raw_times, our_times = [], []
    for _ in range(REPEATS):
        # Builds a person starts are seconds apart: by then the spare child the last build started is
        # ready, and its start-up no longer competes with either side for this machine's two cores.
        time.sleep(SPARE_STARTUP_SECONDS)
        raw_times.append(raw_build(backend, model, [PROFILE], "/tmp/bench_raw.engine"))
        time.sleep(SPARE_STARTUP_SECONDS)
        our_times.append(workbench_build(backend, model))
    raw, ours = statistics.median(raw_times), statistics.median(our_times)
    print(f"{model.name:>14}: raw TensorRT API {raw:6.3f} s | build_engine (child process) {ours:6.3f} s | "
          f"overhead ratio {ours / raw:.2f}  (goal ≤ 1.10)")


def event_loop_gap(backend) -> None:
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from workbench.ui.build_panel import BuildPanel
    from workbench.ui.session import Session

    app = QApplication.instance() or QApplication([])
    session = Session(backend)
    panel = BuildPanel(session)
    panel.show()
    session.set_model(LoadedModel.from_proto(deep_cnn(120)), opened=True)
    session.recipe.profiles = [PROFILE.to_dict()]
    panel.output.setText("/tmp/bench_ui.engine")
    clock, gaps = QElapsedTimer(), []
    ticker = QTimer(interval=5)
    ticker.timeout.connect(lambda: (gaps.append(clock.restart())))
    idle = QTimer(singleShot=True, interval=0)
    session.busy_changed.connect(lambda busy, _what: None if busy else app.quit())
    clock.start()
    ticker.start()
    idle.timeout.connect(panel.start_build)
    idle.start()
    started = time.perf_counter()
    app.exec()
    ticker.stop()
    print(f"UI during a {time.perf_counter() - started:.2f} s build from the Build panel: longest event-loop gap "
          f"{max(gaps)} ms over {len(gaps)} ticks (goal ≤ 50 ms; a 5 ms timer is the baseline)")


def cancel_latency(backend) -> None:
    model = LoadedModel.from_proto(deep_cnn(300))
    token = CancelToken()
    requested = []

    def cancel_when_building(phase, _fraction=None):
        if phase == "Building engine" and not requested:
            requested.append(time.perf_counter())
            token.cancel()

    try:
        build_engine(model, BuildSettings(), [PROFILE], "/tmp/bench_cancel.engine", backend=backend,
                     progress=cancel_when_building, cancel=token)
    except Cancelled:
        print(f"Cancel during a ~4 s build returned after {time.perf_counter() - requested[0]:.2f} s "
              f"(goal ≤ 2 s); partial engine left: {Path('/tmp/bench_cancel.engine').exists()}")


def main() -> None:
    backend = load_backend()
    print(f"backend: {backend.name} {backend.version}, {os.cpu_count()} CPUs")
    for depth in (8, 120):
        overhead(backend, depth)
    event_loop_gap(backend)
    cancel_latency(backend)


if __name__ == "__main__":
    main()
