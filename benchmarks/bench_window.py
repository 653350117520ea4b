"""The window's start → first paint, and undo → stable state, each measured in fresh processes.

**Start.** ``trt-workbench MODEL --screenshot OUT.png --size 1280x800`` run with ``TRT_WORKBENCH_REPORT_TIMES=1``
prints the monotonic time of its first paint, of the analysis reaching every panel and of the moment nothing is
pending (analysis, trial build, graph marks); this script notes the time just before starting the process and
subtracts (Linux's monotonic clock is system-wide). ``--screenshot`` uses throwaway settings, so every run starts
from the default layout and the user's settings are untouched. Baselines, started the same way: a bare PySide6
``QMainWindow`` holding a ``QWebEngineView`` on an empty page at the same size (the Qt/WebEngine floor,
``window_floor.py``; its first paint reported by the same code), and ``python -c "import PySide6.QtWidgets"``.

**Undo.** In a fresh process: the window opens ``if_scalar`` (the parser refuses its If on a scalar input),
applies the freeze-input fix the triage offers (as ``tests/ui/conftest.py`` does), waits until nothing runs,
then undoes and measures until the window is stable again: no background task running, the status strip and the
triage list as they were before the fix; and, separately, until the graph shows that model's marks again
(Netron reloads the page). Baseline: "Analyse again" on the same model, i.e. the analysis and trial build an
undo used to re-run; the first open of the process (cold) is printed too.

Runs alternate between the commands; medians are compared; the load average is printed (the machine is shared).
Run: ``xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python benchmarks/bench_window.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.ui.startup_times import REPORT_TIMES_VARIABLE, reported_times  # noqa: E402

DEFAULT_RUNS = 5
DEFAULT_MODEL = "clean_cnn"  # the sample the window opens when started without a model
UNDO_MODEL = "if_scalar"  # a sample with a parser error whose fix (freeze-input) the triage offers
WINDOW_SIZE = (1280, 800)
RESULT_PREFIX = "bench-window-result "  # the undo run's one line of JSON on stdout
TIMEOUT_S = 180


def child_environment() -> dict[str, str]:
    """The same environment for every process: this checkout first, and the Chromium flags the app itself sets as
    root (set here so the bare-window baseline runs Chromium the same way)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), REPORT_TIMES_VARIABLE: "1"}
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")
    return env


def run_reporting(command: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run ``command`` to its end; {event: seconds after the process was started} from its stderr's report lines."""
    started = time.monotonic()
    process = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, timeout=TIMEOUT_S)
    ended = time.monotonic()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{process.stderr[-3000:]}")
    times = {"exit": ended - started}
    for event, stamp in reported_times(process.stderr):
        times.setdefault(event, stamp - started)
    return times


def measure_start(model: str, runs: int) -> dict[str, dict[str, float]]:
    env = child_environment()
    size = "x".join(map(str, WINDOW_SIZE))
    with tempfile.TemporaryDirectory() as scratch:
        commands = {
            "import PySide6.QtWidgets": [sys.executable, "-c", "import PySide6.QtWidgets"],
            "bare window": [sys.executable, str(Path(__file__).with_name("window_floor.py")), *map(str, WINDOW_SIZE)],
            "workbench": [sys.executable, "-m", "workbench.cli", model, "--screenshot", str(Path(scratch) / "w.png"),
                          "--size", size],
        }
        for command in commands.values():  # one warm-up each: page cache, .pyc files, fontconfig
            run_reporting(command, env)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                samples[name].append(run_reporting(command, env))
    return {name: {event: statistics.median(run[event] for run in runs_) for event in runs_[0]}
            for name, runs_ in samples.items()}


def measure_undo(runs: int) -> dict[str, float]:
    env = child_environment()
    samples: list[dict[str, float]] = []
    for _ in range(runs + 1):  # the first is a warm-up
        process = subprocess.run([sys.executable, __file__, "--undo-run"], cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=TIMEOUT_S)
        lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if process.returncode != 0 or not lines:
            raise SystemExit(f"the undo run exited {process.returncode}:\n{process.stderr[-3000:]}")
        samples.append(json.loads(lines[-1].removeprefix(RESULT_PREFIX)))
    return {key: statistics.median(sample[key] for sample in samples[1:]) for key in samples[0]}


# In the child processes ------------------------------------------------------------------------------------------
def undo_run() -> None:
    """One open → fix → undo → "Analyse again" in a fresh window; prints the durations as one JSON line."""
    from workbench.ui.app import build_window, prepare_qt

    prepare_qt()
    from PySide6.QtCore import QEvent, QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    from workbench.resources import model_path
    from workbench.ui.screenshot import pending_work

    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as scratch:  # throwaway settings: the default layout, the user's untouched
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        window = build_window("auto", settings)
        window.resize(*WINDOW_SIZE)
        window.show()
        strip, triage = window.status_strip, window.panels["triage"]
        pool = QThreadPool.globalInstance()

        def idle() -> bool:
            return not pending_work(window) and pool.activeThreadCount() == 0

        def shown() -> tuple:  # what the user reads: the strip's stages and the triage list
            rows = [triage.tree.topLevelItem(i).text(0) for i in range(triage.tree.topLevelItemCount())]
            return tuple(strip.state(stage) for stage in window.session.stages), tuple(rows)

        opened_s = _time_until(app, lambda: window.open_path(model_path(UNDO_MODEL)), idle)
        before_fix = shown()
        problem = next(p for p in window.session.problems if p.kind == "parser-error")
        window.session.fix_requested.emit(problem, "freeze-input")
        dialog = window.panels["fixes"].dialog
        dialog.fields["value"].setText("0.5")
        assert dialog.preview() is not None
        _time_until(app, lambda: None, dialog.apply_button.isEnabled)
        _time_until(app, dialog.apply_button.click, idle)  # the fix, its re-analysis, trial build, parity check
        assert shown() != before_fix, "the fix changed nothing on screen: nothing to measure an undo against"

        undo_button = window.panels["history"].undo_button
        clicked: list[float] = []  # the click's own share: the history step and every panel updating, synchronously
        undo_s = _time_until(app, lambda: clicked.append(_seconds(undo_button.click)),
                             lambda: not window.loader.busy and not window.trial_build.busy
                             and pool.activeThreadCount() == 0 and shown() == before_fix)
        marked_s = undo_s + _time_until(app, lambda: None, idle)
        reanalysed_s = _time_until(app, window.analyse_action.trigger, idle)
        assert shown() == before_fix
        window.close()
        window.deleteLater()  # its runtime closes with it, stopping every child process
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    print(RESULT_PREFIX + json.dumps({"undo → strip and triage stable, no task running": undo_s,
                                      "of which the undo click itself": clicked[0],
                                      "undo → graph marks shown again": marked_s,
                                      "Analyse again → analysis + trial build + marks (what undo used to run)":
                                          reanalysed_s,
                                      "first open → analysis + trial build + marks (cold process)": opened_s}),
          flush=True)


def _seconds(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def _time_until(app, action: Callable[[], object], done: Callable[[], bool]) -> float:
    """Seconds from ``action()`` until ``done()``, the event loop running (at least one pass, which paints)."""
    started = time.monotonic()
    action()
    while True:
        app.processEvents()
        if done():
            return time.monotonic() - started
        if time.monotonic() - started > TIMEOUT_S:
            raise SystemExit(f"timed out after {TIMEOUT_S} s")
        time.sleep(0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the model the window starts on (a path or a sample)")
    parser.add_argument("--undo-run", action="store_true", help=argparse.SUPPRESS)  # the child process's part
    args = parser.parse_args()
    if args.undo_run:
        undo_run()
        return
    load_before = os.getloadavg()
    start = measure_start(args.model, args.runs)
    undo = measure_undo(args.runs)
    load_after = os.getloadavg()

    floor, python_qt, ours = start["bare window"], start["import PySide6.QtWidgets"], start["workbench"]
    print(f"Start ({args.model}, {WINDOW_SIZE[0]}x{WINDOW_SIZE[1]}), median of {args.runs} fresh processes, "
          "seconds from the process's start:")
    print(f"  python -c 'import PySide6.QtWidgets' (whole process): {python_qt['exit']:.3f} s")
    print(f"  bare QMainWindow + empty QWebEngineView, first paint:  {floor['first-paint']:.3f} s")
    print(f"  trt-workbench, first paint:                           {ours['first-paint']:.3f} s  "
          f"= {ours['first-paint'] / floor['first-paint']:.2f}x the bare window")
    print(f"  trt-workbench, analysis shown:                        {ours['analysis-shown']:.3f} s")
    print(f"  trt-workbench, settled (trial build, graph marks):    {ours['settled']:.3f} s")
    print(f"Undo ({UNDO_MODEL}, freeze-input then undo), median of {args.runs} fresh processes:")
    for what, seconds in undo.items():
        print(f"  {what}: {seconds * 1000:.1f} ms")
    baseline = undo["Analyse again → analysis + trial build + marks (what undo used to run)"]
    stable = undo["undo → strip and triage stable, no task running"]
    print(f"  ratio undo→stable / analyse again: {stable / baseline:.3f}x")
    print(f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {', '.join(f'{x:.2f}' for x in load_after)}")


if __name__ == "__main__":
    main()
