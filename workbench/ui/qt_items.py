"""Items of Qt's item views, typed: Qt types ``child(i)``, ``topLevelItem(i)`` and a model's ``item(i)`` as optional
(None past the end), so the panels reach items through these instead of indexing with a range."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QTreeWidget, QTreeWidgetItem


def child_items(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [child for index in range(item.childCount()) if (child := item.child(index)) is not None]


def top_level_items(tree: QTreeWidget) -> list[QTreeWidgetItem]:
    return child_items(tree.invisibleRootItem())


def disable_choice(combo: QComboBox, index: int, reason: str) -> None:
    """Grey out entry ``index`` of ``combo``, with ``reason`` as its tooltip."""
    model = combo.model()  # a QStandardItemModel unless someone set another
    item = model.item(index) if isinstance(model, QStandardItemModel) else None
    if item is not None:
        item.setEnabled(False)
    combo.setItemData(index, reason, Qt.ItemDataRole.ToolTipRole)
