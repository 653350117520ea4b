"""The dockable panels of the main window, in the order they are created.

Each entry is (object name, title, import path of a QWidget subclass taking ``(session, parent)``,
default dock area). Capabilities add their panel here; the main window builds the docks and the
View menu from this list, so adding a panel touches no other file.
"""

PANELS: list[tuple[str, str, str, str]] = [
    ("triage", "Triage", "workbench.ui.triage_panel:TriagePanel", "left"),
    ("model", "Model", "workbench.ui.model_panel:ModelPanel", "left"),
    ("graph", "Graph", "workbench.ui.graph_view:GraphView", "right"),
    ("log", "Log", "workbench.ui.log_panel:LogPanel", "bottom"),
]
