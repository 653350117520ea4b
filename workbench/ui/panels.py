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
    ("profiles", "Profiles", "workbench.ui.profile_editor:ProfileEditor", "right"),
    ("build", "Build", "workbench.ui.build_panel:BuildPanel", "right"),
    ("fixes", "Fixes", "workbench.ui.fixes_panel:FixesPanel", "left"),
    ("history", "History", "workbench.ui.history_panel:HistoryPanel", "left"),
    ("compare", "Compare", "workbench.ui.compare_panel:ComparePanel", "right"),
    ("precision", "Precision", "workbench.ui.precision_panel:PrecisionPanel", "right"),
]
