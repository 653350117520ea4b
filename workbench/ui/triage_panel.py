"""Triage panel: what stands between the model and an engine, grouped, filterable, explained.

Selecting a problem shows its full text, the node's attributes and tensors, and asks the graph
view to centre the node (``session.node_selected``). Fix buttons hand the problem to whoever
offers that fix (``session.fix_requested``); profile problems open the profile editor.

The other way round, a node clicked in the graph (``session.node_picked``) selects its problems
(for an If/Loop, also those inside its bodies) or says it has none, and shows the node either way;
``step(+1/-1)`` walks from problem to problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from html import escape

import onnx
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSplitter, QTextBrowser,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, TensorInfo, iter_nodes
from workbench.core.problems import Problem, ProblemKind, SEVERITIES, Severity
from workbench.core.progress import CancelToken, ProgressFn
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.core.model.tensor_shapes import tensor_shapes
from workbench.ui.session import Session
from workbench.ui.tasks import Task
from workbench.ui.qt_items import child_items, top_level_items

_GROUP_TITLES = {"error": "Errors", "warning": "Warnings", "info": "Notes"}
_PROFILE_KINDS = (ProblemKind.NO_PROFILE, ProblemKind.DYNAMIC_INPUT)


def offers_profiles(problem: Problem) -> bool:
    return problem.kind in _PROFILE_KINDS or (problem.stage == "build" and bool(problem.inputs))


# What TensorRT refuses to take or build: the split puts it in onnxruntime and the rest in TensorRT.
SPLIT_KINDS = frozenset({ProblemKind.UNSUPPORTED_SUBGRAPH, ProblemKind.PARSER_ERROR, ProblemKind.PLUGIN_UNAVAILABLE,
                         ProblemKind.NMS, ProblemKind.BUILDER_ERROR})


def offers_split(problem: Problem) -> bool:
    return problem.kind in SPLIT_KINDS


# TensorRT's own refusals (not settings such as a missing profile): the smallest model that still fails the same
# way is what a bug report needs.
REDUCE_KINDS = frozenset({ProblemKind.PARSER_ERROR, ProblemKind.UNSUPPORTED_SUBGRAPH, ProblemKind.BUILDER_ERROR})


def offers_reduce(problem: Problem) -> bool:
    return problem.kind in REDUCE_KINDS and problem.severity == "error"


def _attribute_text(attribute: onnx.AttributeProto) -> str:
    if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        graphs = [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs)
        return ", ".join(f"subgraph '{g.name}' ({len(g.node)} nodes)" for g in graphs)
    if attribute.type in (onnx.AttributeProto.TENSOR, onnx.AttributeProto.TENSORS):
        tensors = [attribute.t] if attribute.type == onnx.AttributeProto.TENSOR else list(attribute.tensors)
        return ", ".join(f"tensor {list(t.dims)}" + (f" = {onnx.numpy_helper.to_array(t).tolist()}"
                                                      if len(t.dims) == 0 or (len(t.dims) == 1 and t.dims[0] <= 8)
                                                      else "") for t in tensors)
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, list):
        return str([v.decode(errors="replace") if isinstance(v, bytes) else v for v in value])
    return str(value)


def _inferred_shapes(proto: onnx.ModelProto, progress: ProgressFn, cancel: CancelToken) -> dict[str, TensorInfo]:
    return tensor_shapes(proto)


class TriagePanel(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._problems: list[Problem] = []
        self._shapes: dict[str, TensorInfo] = {}
        self.shapes_task = Task(self, session, "triage", on_done=self._set_shapes, errors_in_place=True)
        self._picking = False  # selecting rows for a node clicked in the graph: don't send it back to the graph
        self.picked_node = ""  # the node last clicked in the graph

        self.filter = QLineEdit(placeholderText="Filter by node, op, kind or message…", clearButtonEnabled=True)
        self.summary = QLabel("No model loaded.")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Node", "Op", "Message"])
        self.tree.setColumnWidth(0, 200)
        self.tree.setColumnWidth(1, 110)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # a node's problems together
        self.detail = QTextBrowser()
        self.detail.setOpenLinks(False)
        self.action_row = QHBoxLayout()  # not "actions": that is QWidget.actions()
        self.action_row.addStretch(1)
        self._action_buttons: list[QPushButton] = []
        detail_box = QWidget()
        detail_layout = QVBoxLayout(detail_box)
        detail_layout.setContentsMargins(0, 0, 0, 0)
        detail_layout.addWidget(self.detail, 1)
        detail_layout.addLayout(self.action_row)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(detail_box)
        splitter.setSizes([300, 200])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

        self.filter.textChanged.connect(self._rebuild)
        self.tree.currentItemChanged.connect(self._on_current)
        session.problems_changed.connect(self.set_problems)
        session.model_changed.connect(self._compute_shapes)
        session.node_picked.connect(self.show_node)
        if session.model is not None:
            self._compute_shapes(session.model)
            self.set_problems(session.problems)

    # Problem list ----------------------------------------------------------------------------------
    def set_problems(self, problems: list[Problem]) -> None:
        self._problems = list(problems)
        counts = {s: sum(p.severity == s for p in self._problems) for s in SEVERITIES}
        self.summary.setText("No problems found: TensorRT takes every node." if not self._problems else
                             f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), "
                             f"{counts[Severity.INFO]} note(s)")
        self._rebuild()

    def _matches(self, problem: Problem, needle: str) -> bool:
        return not needle or any(needle in text.lower() for text in
                                 (problem.node, problem.op, problem.kind, problem.message, problem.parent))

    def _rebuild(self) -> None:
        needle = self.filter.text().strip().lower()
        bold = QFont()
        bold.setBold(True)
        self.tree.clear()
        for severity in SEVERITIES:
            by_kind: dict[str, list[int]] = defaultdict(list)
            for index, problem in enumerate(self._problems):
                if problem.severity == severity and self._matches(problem, needle):
                    by_kind[problem.kind].append(index)
            if not by_kind:
                continue
            total = sum(len(v) for v in by_kind.values())
            group = QTreeWidgetItem([f"{_GROUP_TITLES[severity]} ({total})"])
            group.setFont(0, bold)
            group.setFirstColumnSpanned(True)
            self.tree.addTopLevelItem(group)
            for kind, indices in by_kind.items():
                kind_item = QTreeWidgetItem(group, [f"{kind} ({len(indices)})"])
                kind_item.setFirstColumnSpanned(True)
                for index in indices:
                    problem = self._problems[index]
                    node = f"{problem.parent} › {problem.node}" if problem.parent else problem.node
                    row = QTreeWidgetItem(kind_item, [node, problem.op, problem.message])
                    row.setToolTip(2, problem.message)
                    row.setData(0, Qt.ItemDataRole.UserRole, index)
            group.setExpanded(True)
            for kind_item in child_items(group):
                kind_item.setExpanded(True)
        if not self._problems:
            self._show_detail(None)

    def problem_items(self) -> list[tuple[QTreeWidgetItem, Problem]]:
        """The problem rows currently shown, in order."""
        return [(item, self._problems[item.data(0, Qt.ItemDataRole.UserRole)])
                for group in top_level_items(self.tree) for kind_item in child_items(group)
                for item in child_items(kind_item)]

    def _current_problem(self) -> Problem | None:
        item = self.tree.currentItem()
        index = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return self._problems[index] if index is not None else None

    def _on_current(self, _item: QTreeWidgetItem | None = None, _previous: QTreeWidgetItem | None = None) -> None:
        problem = self._current_problem()
        self._show_detail(problem)
        if problem is not None and problem.node and not self._picking:
            self.session.node_selected.emit(problem.node)

    def step(self, offset: int) -> Problem | None:
        """Select the next (+1) or previous (-1) problem row, wrapping around; its node is shown in the graph."""
        rows = [item for item, _problem in self.problem_items()]
        if not rows:
            return None
        current = self.tree.currentItem()
        index = rows.index(current) + offset if current in rows else (0 if offset > 0 else -1)
        self.tree.setCurrentItem(rows[index % len(rows)])
        self.tree.scrollToItem(rows[index % len(rows)])
        return self._current_problem()

    def show_node(self, name: str) -> list[Problem]:
        """A node clicked in the graph: select its problems (and those inside its bodies), or say it has none."""
        self.picked_node = name
        rows = [(item, p) for item, p in self.problem_items() if name and name in (p.node, p.parent)]
        self._picking = True
        try:
            self.tree.clearSelection()
            if rows:
                self.tree.setCurrentItem(rows[0][0])
                for item, _problem in rows[1:]:
                    item.setSelected(True)
                self.tree.scrollToItem(rows[0][0])
            else:
                self.tree.setCurrentIndex(QModelIndex())  # no current item
                self._show_node_only(name)
        finally:
            self._picking = False
        return [p for _item, p in rows]

    def _show_node_only(self, name: str) -> None:
        node = self._find_node(name)
        hidden = " (the filter hides some problems)" if self.filter.text().strip() else ""
        html = [f"<h3>No problems on this node{hidden}</h3>"]
        if node is None:
            html.append(f"<p><code>{escape(name or '(unnamed node)')}</code> is not a node of the current model.</p>")
        else:
            html.append(f"<p>{escape(node.op_type)} <code>{escape(name)}</code></p>" + self._node_html(node))
        self.detail.setHtml("".join(html))

    # Detail pane -------------------------------------------------------------------------------------
    def _compute_shapes(self, model: LoadedModel) -> None:
        """Infer every tensor's shape in the background; a newer model's inference replaces this one's."""
        self._shapes = {}
        self.shapes_task.start(_inferred_shapes, model.proto)

    def _set_shapes(self, shapes: dict[str, TensorInfo]) -> None:
        self._shapes = shapes
        self._show_detail(self._current_problem())

    def _find_node(self, name: str) -> onnx.NodeProto | None:
        if not name or self.session.model is None:
            return None
        return next((node for node, _parent in iter_nodes(self.session.model.proto.graph) if node.name == name), None)

    def _profile_shapes(self) -> dict[str, str]:
        """Input name → the first profile's opt shape (the profile editor suggests one for dynamic inputs)."""
        try:
            profiles = profiles_from_recipe(self.session.recipe.profiles)
        except WorkbenchError:
            return {}
        if not profiles:
            return {}
        return {name: "x".join(map(str, rng.opt)) for name, rng in profiles[0].shapes.items()}

    def _tensor_rows(self, names: Iterable[str]) -> str:
        rows = []
        suggested = self._profile_shapes()
        for name in names:
            if not name:
                continue
            info = self._shapes.get(name)
            described = f"{info.dtype} {info.shape_text()}" if info else "(shape unknown)"
            if name in suggested:
                described += f" — profile 1 opt shape {suggested[name]}"
            rows.append(f"<li><code>{escape(name)}</code>: {escape(described)}</li>")
        return "".join(rows) or "<li>none</li>"

    def _node_html(self, node: onnx.NodeProto) -> str:
        attributes = "".join(f"<li>{escape(a.name)} = {escape(_attribute_text(a))}</li>" for a in node.attribute)
        return (f"<h4>Attributes</h4><ul>{attributes or '<li>none</li>'}</ul>"
                f"<h4>Inputs</h4><ul>{self._tensor_rows(node.input)}</ul>"
                f"<h4>Outputs</h4><ul>{self._tensor_rows(node.output)}</ul>")

    def _show_detail(self, problem: Problem | None) -> None:
        for button in self._action_buttons:
            self.action_row.removeWidget(button)
            button.deleteLater()
        self._action_buttons.clear()
        if problem is None:
            self.detail.setHtml("<p>Select a problem to see its detail.</p>")
            return
        where = f"{problem.op} <code>{escape(problem.node)}</code>" if problem.node else ""
        if problem.parent:
            where += f" inside <code>{escape(problem.parent)}</code>"
        html = [f"<h3>{escape(problem.severity.capitalize())}: {escape(problem.kind)}</h3>",
                f"<p>{escape(problem.message)}</p>",
                f"<p>Stage: {escape(problem.stage)}{' · ' + where if where else ''}</p>"]
        if problem.hint:
            html.append(f"<p><b>What to try:</b> {escape(problem.hint)}</p>")
        if problem.detail:
            html.append(f"<pre style='white-space: pre-wrap'>{escape(problem.detail)}</pre>")
        node = self._find_node(problem.node)
        if node is not None:
            html.append(self._node_html(node))
        elif problem.inputs:
            html.append(f"<h4>Inputs</h4><ul>{self._tensor_rows(problem.inputs)}</ul>")
        self.detail.setHtml("".join(html))
        for fix_name in problem.fixes:
            self._add_action(f"Fix: {fix_name}",
                             lambda _=False, n=fix_name: self.session.fix_requested.emit(problem, n))
        if offers_profiles(problem):
            self._add_action("Edit profiles", lambda: self.session.panel_requested.emit("profiles"))
        if offers_split(problem):
            self._add_action("Split for TensorRT", self.session.split_requested.emit)
        if offers_reduce(problem):
            self._add_action("Reduce…", lambda: self.session.reduce_requested.emit(problem))

    def _add_action(self, text: str, slot: Callable[..., object]) -> QPushButton:
        button = QPushButton(text)
        button.clicked.connect(slot)
        self.action_row.insertWidget(len(self._action_buttons), button)  # before the stretch
        self._action_buttons.append(button)
        return button

    def action_buttons(self) -> list[QPushButton]:
        return list(self._action_buttons)
