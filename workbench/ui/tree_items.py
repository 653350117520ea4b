"""The items of a QTreeWidget as lists: Qt types ``child(i)`` and ``topLevelItem(i)`` as optional (None past
the end), so the panels walk trees through these instead of indexing with a range."""

from __future__ import annotations

from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem


def child_items(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for index in range(item.childCount()) if (child := item.child(index)) is not None]


def top_level_items(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    return child_items(tree.invisibleRootItem())
