"""Sizing shared by the panels' results tables."""

from __future__ import annotations

from PySide6.QtWidgets import QSizePolicy, QTableWidget

MIN_RESULT_ROWS = 5  # rows of a results table in view before it scrolls, however short its dock


def keep_rows_in_view(table: QTableWidget, rows: int = MIN_RESULT_ROWS, *, prefer_minimum: bool = False) -> None:
    """The table's minimum height: its header, ``rows`` rows and a horizontal scroll bar (the layout around it gives
    way first, so a 1280 × 800 window still shows five results).

    ``prefer_minimum`` for a table straight in a panel with wrapped text: a dock's scroll area gives such a panel its
    preferred height for its width, so a table preferring more than its minimum would make the panel scroll; the
    table takes the room that is left instead."""
    if prefer_minimum:
        table.setSizePolicy(table.sizePolicy().horizontalPolicy(), QSizePolicy.Policy.Ignored)
    table.setMinimumHeight(table.horizontalHeader().sizeHint().height()
                           + rows * table.verticalHeader().defaultSectionSize()
                           + table.horizontalScrollBar().sizeHint().height() + 2 * table.frameWidth())
