"""The window's layout: it fits the screen it opens on, Compare sits beside the graph, the user's
arrangement is saved and restored, and View → Reset layout brings the default back."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit,
                               QTableWidget, QTabWidget, QWidget)

from tests.conftest import SAMPLES
from tests.ui.conftest import needs_webengine, open_and_wait, settle_window
from workbench.ui.main_window import LAYOUT_VERSION
from workbench.ui.tables import MIN_RESULT_ROWS


def test_first_start_fits_the_screen_and_compare_is_tabbed_with_the_graph(qtbot, window):
    available = window.screen().availableGeometry()
    assert window.frameGeometry().width() <= available.width() and window.height() <= available.height()
    assert window.width() >= available.width() * 0.8  # uses the screen, not a fixed small size
    area = window.dockWidgetArea
    assert area(window.docks["compare"]) == area(window.docks["graph"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert window.docks["compare"] in window.tabifiedDockWidgets(window.docks["graph"])


def test_layout_is_saved_and_reset_restores_the_default(qtbot, make_window, settings):
    first = make_window()
    first.docks["compare"].close()  # the user closes one panel …
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.docks["build"])  # … and moves another
    first.docks["build"].show()
    first.close()

    second = make_window(settings)  # same settings: the arrangement comes back
    assert second.dockWidgetArea(second.docks["build"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert not second.docks["compare"].isVisible()
    assert second.restoreState(settings.value("window/state"), LAYOUT_VERSION)
    assert not second.restoreState(settings.value("window/state"), LAYOUT_VERSION - 1)  # older layouts are not taken

    second.reset_layout()
    assert second.dockWidgetArea(second.docks["build"]) == Qt.DockWidgetArea.RightDockWidgetArea
    assert second.docks["compare"].isVisible() or second.docks["compare"] in second.tabifiedDockWidgets(
        second.docks["graph"])
    assert settings.value("window/state") is None  # forgotten until the window closes again


SIZES = [(1280, 800), (1920, 1080)]
CONTROLS = (QAbstractButton, QComboBox, QLineEdit, QAbstractSpinBox)


def _shown(qtbot, window, size) -> None:
    open_and_wait(qtbot, window, SAMPLES / "if_scalar.onnx")
    settle_window(qtbot, window)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=5000)


def _fully_visible(widget) -> bool:
    return widget.visibleRegion().boundingRect() == widget.rect()


def _cut_off(panel) -> list[str]:
    """The panel's shown controls not wholly in view, and its shown tables with fewer than five rows of room."""
    found = []
    for control in panel.findChildren(QWidget):
        if not control.isVisible() or isinstance(control.parent(), QAbstractItemView):
            continue  # hidden, or a table's own corner button
        if isinstance(control, CONTROLS) and not isinstance(control.parent(), CONTROLS) and \
                not _fully_visible(control):
            found.append(f"{type(control).__name__} '{getattr(control, 'text', lambda: '')()}' "
                         f"shows {control.visibleRegion().boundingRect()} of {control.rect()}")
        if isinstance(control, QTableWidget):
            rows = control.viewport().height() / control.verticalHeader().defaultSectionSize()
            if rows < MIN_RESULT_ROWS or not _fully_visible(control):
                found.append(f"table {control.horizontalHeaderItem(0).text()!r}: room for {rows:.1f} rows, "
                             f"{control.visibleRegion().boundingRect()} of {control.rect()} in view")
    return found


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_strip_every_control_and_five_result_rows_are_in_view(qtbot, make_window, size):
    window = make_window(size=size)
    _shown(qtbot, window, size)
    strip = window.status_strip
    assert strip.isVisible() and _fully_visible(strip), "the status strip is hidden (behind the toolbar's »?)"
    assert window.rect().contains(QRect(strip.mapTo(window, QPoint(0, 0)), strip.size()))
    problems = {}
    for name, panel in window.panels.items():
        window.show_panel(name)
        for tabs in panel.findChildren(QTabWidget):  # e.g. the Build panel's Engine / Log / History tabs
            for index in range(tabs.count()):
                tabs.setCurrentIndex(index)
                qtbot.wait(10)
                problems[f"{name}/{tabs.tabText(index)}"] = _cut_off(panel)
        qtbot.wait(10)
        problems[name] = _cut_off(panel)
        scroller = window.docks[name].widget()  # the panel fits its dock: nothing to scroll to
        for bar in (scroller.horizontalScrollBar(), scroller.verticalScrollBar()):
            if bar.maximum():
                problems[name].append(f"the dock scrolls {bar.maximum()} px {bar.orientation().name}")
    precision = window.panels["precision"]  # converting shows the tolerance's reason and the graph I/O option
    window.show_panel("precision")
    precision.mode.setCurrentIndex(precision.mode.findData("fp16"))
    qtbot.wait(10)
    problems["precision/FP16"] = _cut_off(precision)
    cut = [f"{where}: {text}" for where, found in problems.items() for text in found]
    assert not cut, "\n".join(cut)


def test_the_strip_takes_a_row_of_its_own_when_the_toolbar_is_full(qtbot, make_window):
    window = make_window(size=SIZES[0])
    _shown(qtbot, window, SIZES[0])
    strip, actions = window.status_strip, window.toolbar
    side_by_side = actions.sizeHint().width() + window.strip_toolbar.sizeHint().width()
    assert strip.mapTo(window, QPoint(0, 0)).y() < actions.geometry().bottom()  # beside the actions when it fits
    window.resize(side_by_side - 40, SIZES[0][1])
    qtbot.waitUntil(lambda: strip.mapTo(window, QPoint(0, 0)).y() > actions.geometry().bottom(), timeout=5000)
    assert strip.isVisible() and _fully_visible(strip)
    window.resize(*SIZES[0])
    qtbot.waitUntil(lambda: strip.mapTo(window, QPoint(0, 0)).y() < actions.geometry().bottom(), timeout=5000)


# The node the graph centred after the analysis (Netron's selection) against the page's viewport.
FRAMED_NODE_SCRIPT = """
(function () {
    const selected = document.querySelector('g.node.select');
    const rect = selected ? selected.getBoundingClientRect() : null;
    return JSON.stringify({selected: selected ? selected.id : '', width: window.innerWidth, height: window.innerHeight,
                           rect: rect ? [rect.left, rect.top, rect.right, rect.bottom] : null});
})()
"""


@needs_webengine
@pytest.mark.webengine
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_problem_node_is_wholly_in_the_visible_graph_after_open(qtbot, make_window, size):
    window = make_window(size=size)
    _shown(qtbot, window, size)
    graph = window.panels["graph"]
    assert graph.isVisible()

    def framed() -> dict:
        answer = []
        graph.page.runJavaScript(FRAMED_NODE_SCRIPT, 0, answer.append)
        qtbot.waitUntil(lambda: bool(answer), timeout=5000)
        return json.loads(answer[0])

    qtbot.waitUntil(lambda: framed()["selected"] == "node-name-choose_resolution", timeout=60_000)
    state = framed()
    left, top, right, bottom = state["rect"]
    assert 0 <= left < right <= state["width"] and 0 <= top < bottom <= state["height"], state
    # And the page's viewport is wholly in view: inside the graph dock's visible area and the window.
    visible = window.docks["graph"].widget().viewport()
    assert visible.rect().contains(QRect(graph.view.mapTo(visible, QPoint(0, 0)), graph.view.size()))
    assert window.rect().contains(QRect(graph.view.mapTo(window, QPoint(0, 0)), graph.view.size()))
