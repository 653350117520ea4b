"""The embedded Netron view under a real display (Xvfb): node selection, local-only traffic."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QUrl

from tests.ui.conftest import needs_webengine, open_and_wait
from workbench.core.model.loading import LoadedModel, load_model
from workbench.ui.graph_view import is_local

pytestmark = needs_webengine
PAGE_TIMEOUT_MS = 30_000


def selected_in_page(qtbot, graph) -> list[str]:
    answer = []
    graph.selected_names(answer.append)
    qtbot.waitUntil(lambda: bool(answer), timeout=5000)
    return answer[0]


def select_problem(qtbot, window, predicate) -> str:
    triage, graph = window.panels["triage"], window.panels["graph"]
    item, problem = next((i, p) for i, p in triage.problem_items() if predicate(p))
    with qtbot.waitSignal(graph.node_shown, timeout=PAGE_TIMEOUT_MS) as shown:
        triage.tree.setCurrentItem(item)
    return shown.args[0]


def test_selecting_a_problem_selects_its_node_in_netron(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "nms_detector.onnx")
    graph = window.panels["graph"]
    assert select_problem(qtbot, window, lambda p: p.kind == "nms") == "nms"
    assert selected_in_page(qtbot, graph) == ["nms"]

    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    # The rejected Resize sits inside the If's branch: the graph shows and selects the If.
    assert select_problem(qtbot, window, lambda p: p.node == "down/resize") == "choose_resolution"
    assert selected_in_page(qtbot, graph) == ["choose_resolution"]

    interceptor = graph.interceptor
    assert interceptor.allowed, "the page loaded nothing from the local Netron server"
    assert [url for url in interceptor.allowed if not is_local(QUrl(url))] == []
    assert all(not is_local(QUrl(url)) for url in interceptor.blocked)
    page_text = []
    graph.page.toPlainText(page_text.append)
    qtbot.waitUntil(lambda: bool(page_text), timeout=5000)
    assert "uses cookies" not in page_text[0]  # the consent screen was skipped


def test_a_model_changed_in_memory_is_served_and_shown(qtbot, window, samples):
    open_and_wait(qtbot, window, samples / "clean_cnn.onnx")
    graph = window.panels["graph"]
    old_url = graph.server.url
    changed = LoadedModel.from_proto(load_model(samples / "groupnorm.onnx").full_proto())
    window.session.set_model(changed)
    assert graph.server.url != old_url
    qtbot.waitUntil(lambda: window.session.report is not None and not window.loader.busy, timeout=PAGE_TIMEOUT_MS)
    node = changed.proto.graph.node[0].name
    with qtbot.waitSignal(graph.node_shown, timeout=PAGE_TIMEOUT_MS) as shown:
        window.session.node_selected.emit(node)
    assert shown.args == [node]


def test_screenshot_of_the_window(qtbot, window, samples, tmp_path):
    """Renders the window on a sample and saves the PNG (WORKBENCH_SCREENSHOT=path keeps a copy)."""
    open_and_wait(qtbot, window, samples / "if_scalar.onnx")
    window.resize(1500, 950)
    select_problem(qtbot, window, lambda p: p.kind == "parser-error")
    qtbot.wait(500)  # let Netron finish scrolling to the node
    image = window.grab().toImage()
    target = Path(os.environ.get("WORKBENCH_SCREENSHOT") or tmp_path / "window.png")
    assert image.save(str(target))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 10) for y in range(0, image.height(), 10)}
    assert image.width() >= 1000 and len(colours) > 20  # panels, text and graph drawn, not a blank window
