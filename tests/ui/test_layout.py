"""The window's layout: it fits the screen it opens on, Compare sits beside the graph, the user's
arrangement is saved and restored, and View → Reset layout brings the default back."""

from __future__ import annotations

from PySide6.QtCore import Qt

from workbench.ui.main_window import LAYOUT_VERSION


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
