"""Where the model stands, at a glance: Parsed · Builds · Profile · Engine · Matches onnxruntime.

Each stage is a button showing ✓ / ✗ / — / ⟳ (running) in the palette's colours, with the detail
as tooltip; clicking it raises the panel that explains it. "Parsed" follows the support report
and the loader; the other stages are set by whoever runs them (``session.set_stage``).
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from workbench.ui import palette
from workbench.ui.loader import ModelLoader
from workbench.ui.session import Session

# stage → (label, panel that explains it)
STAGE_VIEWS = {"parsed": ("Parsed", "triage"), "builds": ("Builds", "triage"), "profile": ("Profile", "profiles"),
               "engine": ("Engine", "build"), "compare": ("Matches onnxruntime", "compare")}
STATE_LOOK = {"ok": ("✓", palette.PASS), "failed": ("✗", palette.FAIL), "none": ("—", palette.IDLE),
              "running": ("⟳", palette.RUNNING)}


def parse_state(session: Session, loading: bool) -> tuple[str, str]:
    """The "parsed" stage from the report: failed when the parser rejects a node, running while (re)analysing."""
    if loading:
        return "running", "analysing the model…"
    report = session.report
    if report is None:
        return "none", "no model analysed yet"
    errors = [p for p in report.problems if p.stage == "parse" and p.severity == "error"]
    if errors:
        return "failed", f"the TensorRT parser reports {len(errors)} error(s): {errors[0].message}"
    unsupported = report.unsupported_nodes
    if unsupported:
        return "failed", f"TensorRT does not take {len(unsupported)} node(s), e.g. '{unsupported[0].name}'"
    return "ok", f"the TensorRT parser takes all {len(report.nodes)} node(s)"


class StatusStrip(QWidget):
    def __init__(self, session: Session, loader: ModelLoader, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.loader = loader
        self.buttons: dict[str, QToolButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.setSpacing(2)
        for index, (stage, (_label, panel)) in enumerate(STAGE_VIEWS.items()):
            if index:
                layout.addWidget(QLabel("·"))
            button = QToolButton(self, autoRaise=True)
            button.setObjectName(f"stage-{stage}")
            button.clicked.connect(lambda _=False, p=panel: session.panel_requested.emit(p))
            self.buttons[stage] = button
            layout.addWidget(button)
        session.stage_changed.connect(self._show_stage)
        session.report_changed.connect(self._update_parsed)
        session.model_changed.connect(self._update_parsed)
        session.busy_changed.connect(self._update_parsed)
        for stage, (state, detail) in session.stages.items():
            self._show_stage(stage, state, detail)
        self._update_parsed()

    def _update_parsed(self, *_args: object) -> None:
        state, detail = parse_state(self.session, self.loader.busy)
        self._show_stage("parsed", state, detail)

    def _show_stage(self, stage: str, state: str, detail: str) -> None:
        if stage == "parsed" and self.session.stages.get(stage) != (state, detail):
            self.session.stages[stage] = (state, detail)  # the strip computes this one; others may read it
        label, _panel = STAGE_VIEWS[stage]
        symbol, colour = STATE_LOOK[state]
        button = self.buttons[stage]
        button.setText(f"{symbol} {label}")
        button.setStyleSheet(f"QToolButton {{ color: {colour}; font-weight: bold; }}")
        button.setToolTip(f"{label}: {detail or state}")
        button.setProperty("state", state)

    def state(self, stage: str) -> str:
        return self.buttons[stage].property("state")
