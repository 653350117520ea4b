"""Problems painted on Netron's graph: which element gets which mark, and the page script that draws them.

``element_marks`` turns the problem list and the support report into marks keyed by the id Netron
gives each element (``node-name-<node>``, ``input-name-<graph input>``): the worst severity of the
node's problems, whether TensorRT does not take it, and whether the mark comes from nodes inside
its ``If``/``Loop`` bodies (those mark their parent, which is what the collapsed graph shows; an
expanded body shows the nested node's own mark too).

``PAGE_SCRIPT`` runs in Netron's page (main world, from document creation). It never edits Netron's
code: it adds CSS classes to the SVG elements Netron draws and re-applies them each time Netron
assigns a freshly laid-out graph to its view (first render, expand/collapse, entering a subgraph),
so marks survive every re-render; zooming only scales the SVG, classes stay. It also wraps the
view's ``showNodeProperties`` (what Netron calls when a node is clicked) to tell the window which
node was clicked, over QWebChannel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from workbench.core.analysis.support import SupportReport
from workbench.core.problems import SEVERITIES, Problem
from workbench.core.split.partition import ONNXRUNTIME, TENSORRT
from workbench.core.split.split import SplitResult
from workbench.ui import palette

NODE_ID_PREFIX = "node-name-"
INPUT_ID_PREFIX = "input-name-"
CHANNEL_OBJECT = "workbench"  # the name the bridge is registered under in the QWebChannel
MAX_TOOLTIP_LINES = 6

# Severity → the CSS class the page uses (and the legend names).
SEVERITY_CLASSES = {"error": "wb-error", "warning": "wb-warning", "info": "wb-note"}
# A split's parts: where each node runs.
PART_CLASSES = {TENSORRT: "wb-part-trt", ONNXRUNTIME: "wb-part-ort"}


@dataclass
class Mark:
    severity: str = ""  # worst severity of the element's problems, "" when it only is unsupported
    unsupported: bool = False  # TensorRT does not take this node (or a node inside its bodies)
    inside: bool = False  # (part of) the mark comes from nodes inside this node's If/Loop bodies
    runtime: str = ""  # where a shown split runs the node (TENSORRT / ONNXRUNTIME), "" without a split
    lines: list[str] = field(default_factory=list)  # tooltip: one line per problem

    def add(self, severity: str, line: str) -> None:
        if not self.severity or SEVERITIES.index(severity) < SEVERITIES.index(self.severity):
            self.severity = severity
        self.lines.append(line)

    def classes(self) -> list[str]:
        classes = ["wb-mark"]
        if self.severity:
            classes.append(SEVERITY_CLASSES[self.severity])
        if self.unsupported:
            classes.append("wb-unsupported")
        if self.inside:
            classes.append("wb-inside")
        if self.runtime:
            classes.append(PART_CLASSES[self.runtime])
        return classes

    def look(self) -> tuple[str, str]:
        """(space-separated classes, tooltip) — what the page draws."""
        shown = self.lines[:MAX_TOOLTIP_LINES]
        if len(self.lines) > len(shown):
            shown.append(f"… and {len(self.lines) - len(shown)} more")
        return " ".join(self.classes()), "\n".join(shown)


def _line(problem: Problem) -> str:
    where = f"{problem.node}: " if problem.parent else ""
    return f"{problem.severity.upper()} {problem.kind}: {where}{problem.message}"


def element_marks(problems: list[Problem], report: SupportReport | None = None,
                  split: SplitResult | None = None) -> dict[str, Mark]:
    """Marks by Netron element id, from the problems, the report's per-node support and a shown split's parts."""
    marks: dict[str, Mark] = {}

    def mark(element_id: str) -> Mark:
        return marks.setdefault(element_id, Mark())

    for problem in problems:
        if problem.node:
            mark(NODE_ID_PREFIX + problem.node).add(problem.severity, _line(problem))
            if problem.parent:
                parent = mark(NODE_ID_PREFIX + problem.parent)
                parent.add(problem.severity, _line(problem))
                parent.inside = True
        else:
            for name in problem.inputs:
                mark(INPUT_ID_PREFIX + name).add(problem.severity, _line(problem))
    for node in (report.nodes if report is not None else []):
        if node.status != "unsupported":
            continue
        mark(NODE_ID_PREFIX + node.name).unsupported = True
        if node.parent:
            parent = mark(NODE_ID_PREFIX + node.parent)
            parent.unsupported = parent.inside = True
    for part in (split.parts if split is not None else []):
        where = f"Split: part {part.index + 1} runs in {part.runtime}"
        for name in part.nodes:
            element = mark(NODE_ID_PREFIX + name)
            element.runtime = part.runtime
            element.lines.append(where + (f" ({part.reasons[name]})" if name in part.reasons else ""))
    for element in marks.values():
        if element.unsupported and not element.lines:
            element.lines.append("TensorRT does not take this node.")
    return marks


def page_marks(marks: dict[str, Mark]) -> dict:
    """The marks as the page script takes them: each distinct look once, and element id → look index.

    Large models repeat a few looks thousands of times (every node of an unsupported subgraph), so
    this keeps the text handed to the page, and its JSON encoding on the GUI thread, small.
    """
    looks: dict[tuple[str, str], int] = {}
    elements = {element_id: looks.setdefault(mark.look(), len(looks)) for element_id, mark in marks.items()}
    return {"looks": list(looks), "elements": elements}


# Marks outline the node in its severity colour with a halo (visible when zoomed out), fill the
# title of nodes TensorRT does not take, and dash the outline when the problem is inside a body.
# Netron outlines the selected node in red, which would read as an error: selection is dark here,
# and a selected marked node keeps its halo, so selection and severity both show.
PAGE_CSS = f"""
g.node.select > path.node-border {{ stroke: {palette.SELECTION}; stroke-width: 3px; }}
g.node.wb-error > path.node-border {{ stroke: {palette.ERROR}; stroke-width: 3px; }}
g.node.wb-warning > path.node-border {{ stroke: {palette.WARNING}; stroke-width: 3px; }}
g.node.wb-note > path.node-border {{ stroke: {palette.NOTE}; stroke-width: 3px; }}
g.node.wb-error {{ filter: drop-shadow(0 0 5px {palette.ERROR}); }}
g.node.wb-warning {{ filter: drop-shadow(0 0 5px {palette.WARNING}); }}
g.node.wb-note {{ filter: drop-shadow(0 0 4px {palette.NOTE}); }}
g.node.wb-unsupported > g.node-item:first-of-type > path {{ fill: {palette.UNSUPPORTED}; }}
g.node.wb-unsupported > g.node-item:first-of-type > text {{ fill: #fff; }}
g.node.wb-unsupported:not(.wb-error):not(.wb-warning):not(.wb-note) > path.node-border {{
    stroke: {palette.UNSUPPORTED}; stroke-width: 3px; }}
g.node.wb-inside > path.node-border {{ stroke-dasharray: 7 3; }}
g.node.wb-part-trt > g.node-item:first-of-type > path {{ fill: {palette.PASS}; }}
g.node.wb-part-ort > g.node-item:first-of-type > path {{ fill: {palette.UNSUPPORTED}; }}
g.node.wb-part-trt > g.node-item:first-of-type > text, g.node.wb-part-ort > g.node-item:first-of-type > text {{
    fill: #fff; }}
g.node.wb-mark.select > path.node-border {{ stroke: {palette.SELECTION}; stroke-width: 4px; stroke-dasharray: none; }}
"""

PAGE_SCRIPT = r"""
(function () {
    if (window.__workbench__) { return; }
    const CLASSES = ['wb-mark', 'wb-error', 'wb-warning', 'wb-note', 'wb-unsupported', 'wb-inside', 'wb-part-trt',
                     'wb-part-ort'];
    const state = {marks: {looks: [], elements: {}}, generation: 0, bridge: null, queue: [], scheduled: false,
                   view: null};

    function send(method, ...args) {
        if (state.bridge) { state.bridge[method](...args); } else { state.queue.push([method, args]); }
    }

    function connect() {
        if (state.bridge || !(window.qt && window.qt.webChannelTransport && window.QWebChannel)) { return; }
        new QWebChannel(window.qt.webChannelTransport, (channel) => {
            state.bridge = channel.objects.%(channel)s;
            for (const [method, args] of state.queue.splice(0)) { state.bridge[method](...args); }
        });
    }

    function ensureStyle() {
        if (document.getElementById('wb-marks-style') || !document.head) { return; }
        const style = document.createElement('style');
        style.id = 'wb-marks-style';
        style.textContent = %(css)s;
        document.head.appendChild(style);
    }

    function graphShown() {
        const view = state.view;
        return Boolean(view && view._target && document.querySelector('g.node'));
    }

    // Put the current marks on every element Netron drew; answers how many elements carry one.
    function apply() {
        state.scheduled = false;
        ensureStyle();
        let marked = 0;
        const {looks, elements} = state.marks;
        for (const element of document.querySelectorAll('g.node[id]')) {
            const index = elements[element.id];
            const mark = index === undefined ? null : looks[index];
            const had = element.classList.contains('wb-mark');
            if (!mark && !had) { continue; }
            element.classList.remove(...CLASSES);
            const old = element.querySelector(':scope > title.wb-title');
            if (old) { old.remove(); }
            // Netron's own tooltips on the node's parts (its name, an attribute) would hide the problem: while
            // marked, each of them starts with the problem text.
            for (const inner of element.querySelectorAll('title[data-wb-original]')) {
                inner.textContent = inner.getAttribute('data-wb-original');
                inner.removeAttribute('data-wb-original');
            }
            if (!mark) { continue; }
            element.classList.add(...mark[0].split(' '));
            for (const inner of element.querySelectorAll('title:not(.wb-title)')) {
                inner.setAttribute('data-wb-original', inner.textContent);
                inner.textContent = mark[1] + '\n\n' + inner.textContent;
            }
            const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
            title.setAttribute('class', 'wb-title');
            title.textContent = mark[1];
            element.insertBefore(title, element.firstChild);
            marked += 1;
        }
        if (graphShown()) { send('marksShown', state.generation, marked); }
        return marked;
    }

    function schedule() {
        if (!state.scheduled) { state.scheduled = true; setTimeout(apply, 0); }
    }

    // Netron assigns view.target once a graph is laid out (render, refresh on expand/collapse).
    function hook(view) {
        state.view = view;
        const proto = Object.getPrototypeOf(view);
        const target = Object.getOwnPropertyDescriptor(proto, 'target');
        if (target && target.set) {
            Object.defineProperty(view, 'target', {
                configurable: true,
                get() { return target.get.call(this); },
                set(value) { target.set.call(this, value); if (value) { schedule(); } }
            });
        }
        const showNodeProperties = view.showNodeProperties;
        view.showNodeProperties = function (node, source) {
            // A click on the graph shows the node in our Triage details; Netron's properties sidebar would cover
            // half the graph, so it opens only from Netron's own menus.
            if (source === 'target' && node) { connect(); send('nodeClicked', node.name || ''); return undefined; }
            return showNodeProperties.call(this, node, source);
        };
    }

    let current = window.__view__;
    Object.defineProperty(window, '__view__', {
        configurable: true,
        get() { return current; },
        set(value) { current = value; if (value) { hook(value); } }
    });
    if (current) { hook(current); }

    window.__workbench__ = {
        setMarks(generation, marks) {
            state.generation = generation;
            state.marks = marks;
            connect();
            return apply();
        },
        // Element id → its mark classes, for whoever asks (tests, checks).
        marked() {
            const found = {};
            for (const element of document.querySelectorAll('g.wb-mark')) {
                found[element.id] = Array.from(element.classList).filter((c) => c.startsWith('wb-'));
            }
            return found;
        },
        shown: graphShown,
    };
    document.addEventListener('DOMContentLoaded', connect);
})();
"""


def page_script() -> str:
    return PAGE_SCRIPT % {"channel": CHANNEL_OBJECT, "css": json.dumps(PAGE_CSS)}


LEGEND = [(palette.ERROR, "error"), (palette.WARNING, "warning"), (palette.NOTE, "note"),
          (palette.UNSUPPORTED, "not taken by TensorRT")]


SPLIT_LEGEND = [(palette.PASS, "split: TensorRT part"), (palette.UNSUPPORTED, "split: onnxruntime part")]


def legend_html(split_shown: bool = False) -> str:
    """One line for the graph panel: the colours, and what a dashed outline means (and the parts' colours while
    a split is shown)."""
    entries = LEGEND[:-1] + SPLIT_LEGEND if split_shown else LEGEND
    swatches = "".join(f"<span style='color:{colour}'>■</span>&nbsp;{text}&nbsp;&nbsp; " for colour, text in entries)
    return f"{swatches}<span style='color:{palette.IDLE}'>┅</span>&nbsp;problem inside an If/Loop body"
