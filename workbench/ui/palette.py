"""The window's colours, by meaning: one place, so the graph marks, the legend, the status strip
and the panels agree on what red or amber says.

Values are hex strings (usable in Qt style sheets, HTML, CSS and ``QColor``).
"""

from __future__ import annotations

ERROR = "#c62828"  # a problem that stops TensorRT (parser or builder error)
WARNING = "#e08a00"  # something to check (a detector's finding, a risky input)
NOTE = "#1e6bb8"  # informational (assumed shapes, a profile is needed)
UNSUPPORTED = "#7b1fa2"  # a node TensorRT does not take
PASS = "#2e7d32"  # a stage that succeeded, outputs that match
FAIL = ERROR  # a stage that failed, outputs that differ
RUNNING = NOTE  # a stage in progress
IDLE = "#757575"  # a stage not run yet
SELECTION = "#111111"  # the node selected in the graph (drawn over a mark's colour)

# Light backgrounds for rows and banners that carry a verdict.
PASS_BACKGROUND = "#d7f0dd"
FAIL_BACKGROUND = "#f8d7d3"
CANNOT_JUDGE_BACKGROUND = "#fbe7b5"  # amber: the tolerance cannot tell whether outputs match
INVALID_BACKGROUND = "#f4c7c3"  # a form cell whose value cannot be used
CHANGED = "#8a6d00"  # dark amber text: outputs changed in a way that needs a look (not checkable, cannot judge)
PLOT = "#3b528b"  # bars of the error histogram

SEVERITY_COLOURS = {"error": ERROR, "warning": WARNING, "info": NOTE}
