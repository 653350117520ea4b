"""``TRT_WORKBENCH_REPORT_TIMES=1`` (what ``benchmarks/bench_window.py`` reads): the window reports its first paint,
the analysis reaching the panels and the moment nothing is pending, once each, on the monotonic clock."""

from __future__ import annotations

import time

from tests.ui.conftest import open_and_wait, settle_window
from workbench.ui.app import report_startup_times
from workbench.ui.screenshot import pending_work
from workbench.ui.startup_times import ANALYSIS_SHOWN, FIRST_PAINT, SETTLED, reported_times


def test_the_window_reports_first_paint_analysis_shown_and_settled_once_each(qtbot, window, samples, capsys):
    capsys.readouterr()
    started = time.monotonic()
    report_startup_times(window)
    window.update()  # the fixture showed the window already: the report counts its next paint
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    settle_window(qtbot, window)
    reported: dict[str, list[float]] = {}

    def read() -> bool:
        for event, stamp in reported_times(capsys.readouterr().err):
            reported.setdefault(event, []).append(stamp)
        return SETTLED in reported

    qtbot.waitUntil(read, timeout=5000)  # the settled check polls every 10 ms
    qtbot.wait(200)  # time for a second report of any event, which would be wrong
    read()
    ended = time.monotonic()
    assert not pending_work(window)
    assert sorted(reported) == sorted([FIRST_PAINT, ANALYSIS_SHOWN, SETTLED])
    assert all(len(stamps) == 1 for stamps in reported.values()), reported
    assert started <= reported[ANALYSIS_SHOWN][0] <= reported[SETTLED][0] <= ended
    assert started <= reported[FIRST_PAINT][0] <= ended
