"""The window's start → first paint, and undo → stable state, each measured in fresh processes.

**Start.** ``trt-workbench MODEL --screenshot OUT.png --size 1280x800`` run with ``TRT_WORKBENCH_REPORT_TIMES=1``
prints the monotonic time of its first paint, of the analysis reaching every panel and of the moment nothing is
pending (analysis, trial build, graph marks); this script notes the time just before starting the process and
subtracts (Linux's monotonic clock is system-wide). ``--screenshot`` uses throwaway settings, so every run starts
from the default layout and the user's settings are untouched. Baselines, started the same way: a bare PySide6
``QMainWindow`` holding a ``QWebEngineView`` on an empty page at the same size (the Qt/WebEngine floor,
``window_floor.py``; its first paint reported by the same code), and ``python -c "import PySide6.QtWidgets"``.

**Undo.** In a fresh process the window opens a model, applies a fix (the step the Fixes dialog's Apply makes),
waits until the fixed model's analysis and trial build are done, then undoes and measures until the window is
stable again: no background task running, the status strip and the triage list as before the fix (and the report
the very one kept with that model); and, separately, until the graph shows that model's marks again (Netron lays
the page out again, as it did before undo kept results). Baseline: "Analyse again" on the same model, i.e. the
analysis and trial build an undo used to re-run; the process's first open (cold) is printed too. Two cases by
default: the ``if_scalar`` sample with the freeze-input fix its parser error offers, and a ResNet-50-sized model
(102 MB, ``benchmarks/resnet.py``) whose batch is set to 1, where the trial build is a real engine build.

Runs alternate between the commands; medians are compared; the load average is printed (the machine is shared).
Run: ``xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python benchmarks/bench_window.py [--runs N]
[--model MODEL] [--undo MODEL FIX]``
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
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.resnet import write_resnet50  # noqa: E402
from workbench.ui.startup_times import (ANALYSIS_SHOWN, FIRST_PAINT, REPORT_TIMES_VARIABLE, SETTLED,  # noqa: E402
                                        reported_times)

DEFAULT_RUNS = 5
DEFAULT_MODEL = "clean_cnn"  # the sample the window opens when started without a model
UNDO_STABLE, UNDO_CLICK = "undo → strip and triage stable, no task running", "of which the undo click itself"
UNDO_MARKED = "undo → graph marks shown again (Netron lays out the page again)"
ANALYSE_AGAIN = "Analyse again → analysis + trial build + marks (what an undo used to run)"
FIRST_OPEN = "first open → analysis + trial build + marks (cold process)"
UNDO_SAMPLE_FIX = "freeze-input:input=downsample_ratio,value=0.5"  # the fix the triage offers for its parser error
RESNET_FIX = "set-input-shape:input=input,shape=1x3x224x224"
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


def run_reporting(command: list[str], env: dict[str, str], expected: tuple[str, ...] = ()) -> dict[str, float]:
    """Run ``command`` to its end; {event: seconds after the process was started} from its stderr's report lines
    ("exit": the whole process), which must include the ``expected`` events."""
    started = time.monotonic()
    process = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, timeout=TIMEOUT_S)
    ended = time.monotonic()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{process.stderr[-3000:]}")
    times = {"exit": ended - started}
    for event, stamp in reported_times(process.stderr):
        times.setdefault(event, stamp - started)
    missing = [event for event in expected if event not in times]
    if missing:
        raise SystemExit(f"{' '.join(command)} reported no {', '.join(missing)}:\n{process.stderr[-3000:]}")
    return times


def measure_start(model: str, runs: int) -> dict[str, dict[str, float]]:
    env = child_environment()
    size = "x".join(map(str, WINDOW_SIZE))
    with tempfile.TemporaryDirectory() as scratch:
        commands = {  # name: (command, the events it must report)
            "import PySide6.QtWidgets": ([sys.executable, "-c", "import PySide6.QtWidgets"], ()),
            "bare window": ([sys.executable, str(Path(__file__).with_name("window_floor.py")), *map(str, WINDOW_SIZE)],
                            (FIRST_PAINT,)),
            "workbench": ([sys.executable, "-m", "workbench.cli", model, "--screenshot", str(Path(scratch) / "w.png"),
                           "--size", size], (FIRST_PAINT, ANALYSIS_SHOWN, SETTLED)),
        }
        for command, expected in commands.values():  # one warm-up each: page cache, .pyc files, fontconfig
            run_reporting(command, env, expected)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, (command, expected) in commands.items():
                samples[name].append(run_reporting(command, env, expected))
    return {name: {event: statistics.median(run[event] for run in runs_) for event in runs_[0]}
            for name, runs_ in samples.items()}


def measure_undo(model: str, fix: str, runs: int) -> dict[str, float]:
    env = child_environment()
    samples: list[dict[str, float]] = []
    for _ in range(runs + 1):  # the first is a warm-up
        process = subprocess.run([sys.executable, __file__, "--undo-run", model, fix], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=TIMEOUT_S)
        lines = [line for line in process.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
        if process.returncode != 0 or not lines:
            raise SystemExit(f"the undo run exited {process.returncode}:\n{process.stderr[-3000:]}")
        samples.append(json.loads(lines[-1].removeprefix(RESULT_PREFIX)))
    return {key: statistics.median(sample[key] for sample in samples[1:]) for key in samples[0]}


# In the child processes ------------------------------------------------------------------------------------------
def undo_run(model: str, fix: str) -> None:
    """One open → fix → undo → "Analyse again" in a fresh window; prints the durations as one JSON line."""
    from workbench.ui.app import build_window, prepare_qt

    prepare_qt()
    from PySide6.QtCore import QEvent, QSettings, QThreadPool
    from PySide6.QtWidgets import QApplication

    from workbench.core.fixes.apply import apply_fix, parse_spec
    from workbench.resources import model_path
    from workbench.ui.screenshot import pending_work

    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as scratch:  # throwaway settings: the default layout, the user's untouched
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        window = build_window("auto", settings)
        window.resize(*WINDOW_SIZE)
        window.show()
        session, strip, triage = window.session, window.status_strip, window.panels["triage"]
        pool = QThreadPool.globalInstance()

        def idle() -> bool:
            return not pending_work(window) and pool.activeThreadCount() == 0

        def shown() -> tuple:  # what the user reads: the strip's stages and the triage list
            rows = [triage.tree.topLevelItem(i).text(0) for i in range(triage.tree.topLevelItemCount())]
            return tuple(strip.state(stage) for stage in session.stages), tuple(rows)

        opened_s = _time_until(app, lambda: window.open_path(model_path(model)), idle)
        report, before_fix = session.report, shown()
        # The step the Fixes dialog's Apply makes (the dialog adds its preview and a parity check, not measured).
        result = apply_fix(session.model, parse_spec(fix))
        _time_until(app, lambda: session.apply_fix(result), idle)  # the fixed model's analysis and trial build
        assert session.report is not report

        undo_button = window.panels["history"].undo_button
        clicked: list[float] = []  # the click's own share: the history step and every panel updating, synchronously
        undo_s = _time_until(app, lambda: clicked.append(_seconds(undo_button.click)),
                             lambda: not window.loader.busy and not window.trial_build.busy
                             and pool.activeThreadCount() == 0 and shown() == before_fix)
        assert session.report is report, "the undo re-analysed instead of restoring the kept report"
        marked_s = undo_s + _time_until(app, lambda: None, idle)
        reanalysed_s = _time_until(app, window.analyse_action.trigger, idle)
        assert shown() == before_fix
        window.close()
        window.deleteLater()  # its runtime closes with it, stopping every child process
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    print(RESULT_PREFIX + json.dumps({UNDO_STABLE: undo_s, UNDO_CLICK: clicked[0], UNDO_MARKED: marked_s,
                                      ANALYSE_AGAIN: reanalysed_s, FIRST_OPEN: opened_s}), flush=True)


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
    parser.add_argument("--undo", nargs=2, metavar=("MODEL", "FIX"),
                        help="measure the undo on this model and fix (the CLI's --apply syntax) instead of the two "
                             "default cases")
    parser.add_argument("--undo-run", nargs=2, help=argparse.SUPPRESS)  # the child process's part
    args = parser.parse_args()
    if args.undo_run:
        undo_run(*args.undo_run)
        return
    load_before = os.getloadavg()
    start = measure_start(args.model, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        if args.undo:
            cases = {f"{args.undo[0]}, {args.undo[1]}": tuple(args.undo)}
        else:
            resnet = write_resnet50(Path(folder) / "resnet50.onnx")  # its batch dim is named: the fix sets it
            cases = {"if_scalar sample, freeze its scalar input": ("if_scalar", UNDO_SAMPLE_FIX),
                     "ResNet-50-sized (102 MB), set the batch to 1": (str(resnet), RESNET_FIX)}
        undo = {label: measure_undo(model, fix, args.runs) for label, (model, fix) in cases.items()}
    load_after = os.getloadavg()

    floor, python_qt, ours = start["bare window"], start["import PySide6.QtWidgets"], start["workbench"]
    print(f"Start ({args.model}, {WINDOW_SIZE[0]}x{WINDOW_SIZE[1]}), median of {args.runs} fresh processes, "
          "seconds from the process's start:")
    print(f"  python -c 'import PySide6.QtWidgets' (whole process): {python_qt['exit']:.3f} s")
    print(f"  bare QMainWindow + empty QWebEngineView, first paint:  {floor[FIRST_PAINT]:.3f} s")
    print(f"  trt-workbench, first paint:                           {ours[FIRST_PAINT]:.3f} s  "
          f"= {ours[FIRST_PAINT] / floor[FIRST_PAINT]:.2f}x the bare window")
    print(f"  trt-workbench, analysis shown:                        {ours[ANALYSIS_SHOWN]:.3f} s")
    print(f"  trt-workbench, settled (trial build, graph marks):    {ours[SETTLED]:.3f} s")
    for label, times in undo.items():
        print(f"Undo ({label}), median of {args.runs} fresh processes:")
        for what, seconds in times.items():
            print(f"  {what}: {seconds * 1000:.1f} ms")
        print(f"  ratio undo → stable / Analyse again: {times[UNDO_STABLE] / times[ANALYSE_AGAIN]:.3f}x")
    print("versions: " + ", ".join(f"{name} {version(name)}" for name in ("PySide6", "onnx", "ml_dtypes", "pyqtgraph")))
    print(f"load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {', '.join(f'{x:.2f}' for x in load_after)}")


if __name__ == "__main__":
    main()
