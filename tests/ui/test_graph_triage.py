"""The graph as triage, under a real display (Xvfb) with the real parser, builder and Netron page:
problems painted on the nodes (queried in the page's DOM), clicks in the page selecting problems,
the status strip, problem navigation, and ``--screenshot``."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.conftest import (LOAD_TIMEOUT_MS, freeze_the_parser_error_input, needs_webengine,
                               open_and_wait, settle_window)
from workbench.ui.screenshot import ScreenshotJob

pytestmark = [pytest.mark.slow, needs_webengine, pytest.mark.webengine]
PAGE_TIMEOUT_MS = 60_000
ROOT = Path(__file__).resolve().parents[2]

# Click the node's title as a user would: Netron's own click handler runs, then ours.
CLICK_SCRIPT = """
(function (id) {
    const node = document.getElementById(id);
    if (!node) { return 'missing'; }
    node.querySelector('g.node-item').dispatchEvent(new MouseEvent('click', {bubbles: true}));
    return 'clicked';
})(%s)
"""


def run_in_page(qtbot, graph, script: str):
    answer = []
    graph.page.runJavaScript(script, 0, answer.append)
    qtbot.waitUntil(lambda: bool(answer), timeout=5000)
    return answer[0]


def marked(qtbot, window) -> dict[str, list[str]]:
    settle_window(qtbot, window)
    answer = []
    window.panels["graph"].marked_elements(answer.append)
    qtbot.waitUntil(lambda: bool(answer), timeout=5000)
    return answer[0]


def click_node(qtbot, window, name: str) -> None:
    with qtbot.waitSignal(window.session.node_picked, timeout=PAGE_TIMEOUT_MS) as picked:
        assert run_in_page(qtbot, window.panels["graph"], CLICK_SCRIPT % json.dumps(f"node-name-{name}")) == "clicked"
    assert picked.args == [name]


def test_parser_error_marks_the_if_and_survives_expanding_it(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    marks = marked(qtbot, window)
    # The Resize the parser rejects is inside the If's branch: the If carries it (dashed: "inside").
    assert {"wb-mark", "wb-error", "wb-inside"} <= set(marks["node-name-choose_resolution"])
    # The capability check lists the Conv's subgraph as unsupported, but cut out on its own it parses:
    # a note, not an error, and not painted as refused.
    assert "wb-note" in marks["node-name-stem"]
    assert not {"wb-error", "wb-unsupported"} & set(marks["node-name-stem"])
    assert "node-name-down/resize" not in marks  # collapsed: not drawn

    # Expand the branch holding the Resize: Netron re-renders the whole graph; the marks come back,
    # and the nested node now drawn carries its own.
    graph = window.panels["graph"]
    expand = """(function () {
        const items = document.getElementById('node-name-downsample_branch').querySelectorAll(':scope > g.node-item');
        items[items.length - 1].dispatchEvent(new MouseEvent('click', {bubbles: true}));
        return 'expanded';
    })()"""
    assert run_in_page(qtbot, graph, expand) == "expanded"
    qtbot.waitUntil(lambda: "node-name-down/resize" in run_in_page(
        qtbot, graph, "JSON.stringify(window.__workbench__.marked())"), timeout=PAGE_TIMEOUT_MS)
    marks = json.loads(run_in_page(qtbot, graph, "JSON.stringify(window.__workbench__.marked())"))
    assert "wb-error" in marks["node-name-down/resize"]
    assert "wb-error" in marks["node-name-choose_resolution"]

    # Zooming (Netron's own buttons) rescales the drawing; the marks stay on their nodes.
    run_in_page(qtbot, graph, "document.getElementById('zoom-in-button').click(); 'zoomed'")
    zoomed = json.loads(run_in_page(qtbot, graph, "JSON.stringify(window.__workbench__.marked())"))
    assert zoomed == marks


def test_build_error_is_marked_and_a_click_in_the_page_selects_it(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "nms_detector.onnx")
    marks = marked(qtbot, window)
    assert "wb-error" in marks["node-name-nms"]  # the builder's "no runners" refusal, from the trial build
    assert "node-name-head_conv" not in marks

    triage = window.panels["triage"]
    click_node(qtbot, window, "nms")
    selected = triage._current_problem()
    assert selected.node == "nms" and selected.stage == "build"
    assert "no problems" not in triage.detail.toPlainText().lower()

    click_node(qtbot, window, "head_conv")
    assert triage._current_problem() is None
    text = triage.detail.toPlainText()
    assert "No problems on this node" in text and "Conv" in text and "features" in text  # op and its input tensor


def test_next_and_previous_walk_the_problems(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    settle_window(qtbot, window)
    rows = [problem for _item, problem in window.panels["triage"].problem_items()]
    assert len(rows) >= 2
    window.next_action.trigger()
    assert window.panels["triage"]._current_problem() is rows[0]
    window.next_action.trigger()
    assert window.panels["triage"]._current_problem() is rows[1]
    window.previous_action.trigger()
    window.previous_action.trigger()  # wraps around to the last
    assert window.panels["triage"]._current_problem() is rows[-1]


def test_status_strip_after_open_fix_undo_and_build(qtbot, window, samples, tmp_path):
    strip = window.status_strip
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    settle_window(qtbot, window)
    assert (strip.state("parsed"), strip.state("builds"), strip.state("engine"), strip.state("compare")) == \
        ("failed", "failed", "none", "none")

    freeze_the_parser_error_input(qtbot, window)
    # Frozen, the model has no dynamic input left: it needs no profile.
    assert (strip.state("parsed"), strip.state("builds"), strip.state("profile")) == ("ok", "ok", "ok")
    assert "node-name-choose_resolution" not in marked(qtbot, window)  # the If is gone, and its mark with it

    window.session.undo()
    settle_window(qtbot, window)
    assert strip.state("parsed") == "failed"
    assert "wb-error" in marked(qtbot, window)["node-name-choose_resolution"]  # marks follow the undo

    window.session.redo()
    settle_window(qtbot, window)
    window.panels["build"].output.setText(str(tmp_path / "fixed.engine"))
    window.build_action.trigger()
    assert strip.state("engine") == "running"
    qtbot.waitUntil(lambda: strip.state("engine") != "running", timeout=LOAD_TIMEOUT_MS)
    assert strip.state("engine") == "ok" and (tmp_path / "fixed.engine").is_file()

    with qtbot.waitSignal(window.session.panel_requested, timeout=1000) as requested:
        strip.buttons["engine"].click()
    assert requested.args == ["build"]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_screenshot_job_writes_the_whole_window(qtbot, window, samples, tmp_path):
    window.open_path(samples / "nms_detector.onnx")
    target = tmp_path / "shots" / "window.png"
    job = ScreenshotJob(window, target, timeout_s=LOAD_TIMEOUT_MS / 1000)
    with qtbot.waitSignal(job.finished, timeout=LOAD_TIMEOUT_MS + 5000) as finished:
        job.start()
    code, message = finished.args
    assert code == 0, message
    ratio = window.devicePixelRatio()
    assert png_size(target) == (int(window.width() * ratio), int(window.height() * ratio))
    assert "wb-error" in marked(qtbot, window)["node-name-nms"]  # taken after the marks were on the graph


def _cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "workbench.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240)


def test_screenshot_command_line(samples, tmp_path):
    target = tmp_path / "if_scalar.png"
    done = _cli(str(samples / "if_scalar.onnx"), "--screenshot", str(target), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    width, height = png_size(target)
    assert f"({width}x{height}, the whole window)" in done.stdout

    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model\n")
    failed = _cli(str(bad), "--screenshot", str(tmp_path / "bad.png"), "--timeout", "60", cwd=tmp_path)
    assert failed.returncode == 2
    assert "error:" in failed.stderr and "notes.onnx" in failed.stderr
    assert not (tmp_path / "bad.png").exists()


# Where the first marked (error) node and the selection sit against the page's viewport, and whether Netron's
# properties sidebar is open.
VIEWPORT_SCRIPT = """
(function () {
    const selected = document.querySelector('g.node.select');
    const rect = selected ? selected.getBoundingClientRect() : null;
    const sidebar = document.getElementById('sidebar');
    return JSON.stringify({
        selected: selected ? selected.id : '',
        inside: Boolean(rect && rect.right > 0 && rect.bottom > 0 && rect.left < window.innerWidth
                        && rect.top < window.innerHeight),
        sidebar: Boolean(sidebar && sidebar.style.opacity === '1'),  // Netron closes it by fading it out
        tooltips: selected ? Array.from(selected.querySelectorAll('title')).map((t) => t.textContent) : [],
    });
})()
"""


def test_after_opening_the_worst_problem_is_in_view_and_its_parts_say_so(qtbot, window, samples):
    """No F8 needed: the graph centres the first error; hovering any part of the marked node shows its problem;
    a click shows the node in Triage without opening Netron's properties sidebar over the graph."""
    open_and_wait(qtbot, window, samples / "nms_detector.onnx")
    settle_window(qtbot, window)
    graph = window.panels["graph"]
    qtbot.waitUntil(lambda: bool(json.loads(run_in_page(qtbot, graph, VIEWPORT_SCRIPT))["selected"]),
                    timeout=PAGE_TIMEOUT_MS)
    state = json.loads(run_in_page(qtbot, graph, VIEWPORT_SCRIPT))
    assert state["selected"] == "node-name-nms" and state["inside"], state
    assert not state["sidebar"], state
    assert state["tooltips"] and all("no runners" in text or "NonMaxSuppression" in text for text in state["tooltips"])
    click_node(qtbot, window, "head_conv")
    assert not json.loads(run_in_page(qtbot, graph, VIEWPORT_SCRIPT))["sidebar"]
