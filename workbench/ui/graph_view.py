"""The graph: Netron, served from this process on 127.0.0.1 and shown in a QWebEngineView.

The page may only talk to the local Netron server: an interceptor blocks every other request
(Netron's analytics) and counts what it blocked. The consent cookie is set before Netron's
scripts run, so its cookie screen never shows. Nodes are selected through Netron's own view
object (``window.__view__``), the same calls its search box makes.

Problems are painted on the graph by ``graph_marks``' page script (CSS classes on Netron's SVG
elements, re-applied after each of Netron's re-renders); it reports back over a QWebChannel when
the marks are on a laid-out graph (``marks_shown``) and which node the user clicked
(``session.node_picked``).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import netron
from PySide6.QtCore import QFile, QIODevice, QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from workbench.core.model.loading import LoadedModel
from workbench.core.problems import SEVERITIES, Problem
from workbench.core.split.split import SplitResult
from workbench.ui.graph_marks import CHANNEL_OBJECT, element_marks, legend_html, page_marks, page_script
from workbench.ui.session import Session

try:
    from PySide6.QtWebChannel import QWebChannel
    from PySide6.QtWebEngineCore import (QWebEnginePage, QWebEngineProfile, QWebEngineScript,
                                         QWebEngineUrlRequestInfo, QWebEngineUrlRequestInterceptor)
    from PySide6.QtWebEngineWidgets import QWebEngineView
    WEBENGINE_MISSING = ""
except ImportError as exc:  # PySide6 builds without QtWebEngine exist (e.g. some distro packages)
    WEBENGINE_MISSING = str(exc)
    # A base for the class statement below; LocalOnlyInterceptor is only made when QtWebEngine is there.
    QWebEngineUrlRequestInterceptor = object  # type: ignore[misc,assignment]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NON_NETWORK_SCHEMES = frozenset({"data", "blob", "about"})

CONSENT_SCRIPT = "document.cookie = 'consent=' + Date.now() + '; path=/; max-age=2592000';"

# Select and centre the first element named like one of `names` (a node first, else a graph
# input/output). Answers JSON: state "selected" (with the name), "missing" or "loading".
SELECT_SCRIPT = """
(function (names) {
    const view = window.__view__;
    const graph = view && (view._target || view.target);
    if (!graph || !graph._table || graph._table.size === 0) { return JSON.stringify({state: 'loading'}); }
    const candidates = [];
    for (const [value, element] of graph._table) {
        if (value && element && element.value === value && typeof element.select === 'function') {
            candidates.push([value, Array.isArray(value.inputs) && value.type ? 0 : 1]);
        }
    }
    candidates.sort((a, b) => a[1] - b[1]);
    for (const name of names) {
        const found = candidates.find(([value]) => value.name === name);
        if (found) {
            graph.scrollTo(graph.select([found[0]], 'sidebar'));
            return JSON.stringify({state: 'selected', name: name});
        }
    }
    return JSON.stringify({state: 'missing'});
})(%s)
"""

SELECTED_SCRIPT = """
(function () {
    const view = window.__view__;
    const graph = view && (view._target || view.target);
    if (!graph || !graph._selection) { return []; }
    return JSON.stringify(Array.from(graph._selection).map((element) => element.value && element.value.name));
})()
"""
MARKED_SCRIPT = "JSON.stringify(window.__workbench__ ? window.__workbench__.marked() : {})"
QWEBCHANNEL_JS = ":/qtwebchannel/qwebchannel.js"  # shipped inside Qt's resources
_SELECT_RETRY_MS = 250
_SELECT_ATTEMPTS = 80  # the graph of a large model can take a while to lay out


def is_local(url: QUrl) -> bool:
    return url.scheme() in NON_NETWORK_SCHEMES or url.host().strip("[]") in LOCAL_HOSTS


class LocalOnlyInterceptor(QWebEngineUrlRequestInterceptor):
    """Blocks every request that would leave this machine; keeps both lists for inspection."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.allowed: list[str] = []
        self.blocked: list[str] = []

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:
        url = info.requestUrl()
        if is_local(url):
            self.allowed.append(url.toString())
        else:
            info.block(True)
            self.blocked.append(url.toString())


class GraphBridge(QObject):
    """What the page script calls (over QWebChannel); re-emitted as Qt signals on the GUI thread."""

    node_clicked = Signal(str)
    marks_shown = Signal(int, int)  # generation, number of marked elements

    @Slot(str)
    def nodeClicked(self, name: str) -> None:  # noqa: N802 (called by name from JavaScript)
        self.node_clicked.emit(name)

    @Slot(int, int)
    def marksShown(self, generation: int, count: int) -> None:  # noqa: N802
        self.marks_shown.emit(generation, count)


def _read_resource(path: str) -> str:
    resource = QFile(path)
    if not resource.open(QIODevice.OpenModeFlag.ReadOnly):
        return ""
    try:
        return bytes(resource.readAll().data()).decode()
    finally:
        resource.close()


# The graph page's name for a model served without its weights (see NetronServer.serve).
WEIGHT_FREE_SUFFIX = " (weights on disk)"
# Opened files below this size are served whole, so Netron shows weight values.
GRAPH_WITH_WEIGHTS_BELOW = 100_000_000


class NetronServer:
    """One Netron server at a time on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}/" if self.address else ""

    def serve(self, model: LoadedModel, from_file: bool) -> bool:
        """Serve the file itself (Netron shows weight values) when it is the opened file and small enough;
        otherwise the weight-free model: every node, shape and attribute, and big weights as external data
        Netron does not read (their values would cost the window and the page a copy of every weight each).
        Returns whether weight values are shown."""
        self.stop()
        if from_file and (not model.references_weights or model.file_size < GRAPH_WITH_WEIGHTS_BELOW):
            self.address = netron.serve(str(model.path), None, address=("127.0.0.1", 0), browse=False)
            return True
        else:  # serve its bytes under a .onnx name so Netron knows the format
            name = (model.path.stem if model.path else "model") + (WEIGHT_FREE_SUFFIX if model.references_weights
                                                                   else "") + ".onnx"
            self.address = netron.serve(name, model.serialized, address=("127.0.0.1", 0), browse=False)
        return not model.references_weights

    def stop(self) -> None:
        if self.address is not None:
            netron.stop(self.address)
            self.address = None


class GraphView(QWidget):
    node_shown = Signal(str)  # the name Netron selected (after a node_selected request)
    marks_shown = Signal(int)  # the current problems are painted on a laid-out graph (number of marked elements)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.server = NetronServer()
        self._pending: list[str] = []
        self._attempts = 0
        self._page_ready = False
        self._retry = QTimer(self, singleShot=True, interval=_SELECT_RETRY_MS)
        self._retry.timeout.connect(self._run_select)
        self._framed = False
        self.marks: dict = page_marks({})  # what the page shows (see graph_marks.page_marks)
        self.marks_generation = 0  # bumped on every change of the marks
        self.shown_generation = -1  # the generation the page last reported painted on a laid-out graph
        self.bridge = GraphBridge(self)
        self.bridge.node_clicked.connect(session.node_picked)
        self.bridge.marks_shown.connect(self._on_marks_shown)

        self.status = QLabel("No model loaded.")
        browser = QPushButton("Open graph in browser")
        browser.clicked.connect(self.open_in_browser)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(browser)
        self.legend = QLabel(legend_html())
        self.legend.setToolTip("Marks on the graph: outline colour = worst problem on the node; a purple title = "
                               "TensorRT does not take the node; dashed = the problem is inside its If/Loop body. "
                               "Click a node to see its problems in Triage.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.legend)
        self.view: QWebEngineView | None = None
        self.page: QWebEnginePage | None = None
        self.profile: QWebEngineProfile | None = None
        self.interceptor: LocalOnlyInterceptor | None = None
        self.channel: QWebChannel | None = None
        if WEBENGINE_MISSING:
            missing = QLabel(f"QtWebEngine is not available ({WEBENGINE_MISSING}), so the graph cannot be shown "
                             "here. Use “Open graph in browser”.")
            missing.setWordWrap(True)
            layout.addWidget(missing, 1)
        else:
            self._make_web_view(layout)
        session.model_changed.connect(self.show_model)
        session.node_selected.connect(self.select_node)
        session.problems_changed.connect(self.update_marks)
        session.split_shown.connect(self.show_split)
        self.split: SplitResult | None = None  # whose parts are marked
        if session.model is not None:
            self.show_model(session.model)
            self.update_marks(session.problems)

    def _make_web_view(self, layout: QVBoxLayout) -> None:
        self.profile = QWebEngineProfile(self)  # off the record: no cookies or cache kept on disk
        self.interceptor = LocalOnlyInterceptor(self)
        self.profile.setUrlRequestInterceptor(self.interceptor)
        # One script, so qwebchannel.js is defined before the marks script that uses it.
        script = QWebEngineScript()
        script.setName("workbench-netron")
        script.setSourceCode("\n".join([CONSENT_SCRIPT, _read_resource(QWEBCHANNEL_JS), page_script()]))
        script.setInjectionPoint(QWebEngineScript.InjectionPoint.DocumentCreation)
        script.setWorldId(QWebEngineScript.ScriptWorldId.MainWorld)
        self.profile.scripts().insert(script)
        self.page = QWebEnginePage(self.profile, self)
        self.channel = QWebChannel(self.page)
        self.channel.registerObject(CHANNEL_OBJECT, self.bridge)
        self.page.setWebChannel(self.channel, QWebEngineScript.ScriptWorldId.MainWorld)
        self.view = QWebEngineView(self)
        self.view.setPage(self.page)
        self.view.setAcceptDrops(False)  # a dropped model goes to the window, not into the page
        self.page.loadFinished.connect(self._on_load_finished)
        layout.addWidget(self.view, 1)

    def show_model(self, model: LoadedModel) -> None:
        if self.split is not None and self.split.model is not model:  # the parts were of another model
            self.show_split(None)
        opened_file = model is self.session.original and model.path is not None
        values_shown = self.server.serve(model, from_file=opened_file)
        url = self.server.url
        self.status.setText(f"{model.name} — Netron at {url}"
                            + ("" if values_shown else " — weights on disk, values not shown"))
        self._page_ready = False
        self.shown_generation = -1
        self._framed = False  # the first problem is brought into view once this model's marks are shown
        if self.page is not None:
            self.page.setUrl(QUrl(url))

    def _on_load_finished(self, ok: bool) -> None:
        self._page_ready = ok and self.page is not None and self.page.url().toString() == self.server.url
        if self._page_ready:
            self._push_marks()

    # Marks -------------------------------------------------------------------------------------------
    def update_marks(self, problems: list[Problem]) -> None:
        """Paint ``problems`` (and the report's unsupported nodes) on the graph."""
        self.marks = page_marks(element_marks(problems, self.session.report, self.split))
        self.marks_generation += 1
        self._push_marks()

    def show_split(self, split: SplitResult | None) -> None:
        """Mark where a split runs each node (``None``: stop marking parts)."""
        self.split = split
        self.legend.setText(legend_html(split_shown=split is not None))
        self.update_marks(self.session.problems)

    def _push_marks(self) -> None:
        if self.page is not None and self._page_ready:
            self.page.runJavaScript(f"window.__workbench__ && window.__workbench__.setMarks("
                                    f"{self.marks_generation}, {json.dumps(self.marks)})", 0)

    def _on_marks_shown(self, generation: int, count: int) -> None:
        if generation == self.marks_generation and self.shown_generation != generation:
            self.shown_generation = generation
            self.marks_shown.emit(count)
            self._frame_first_problem()

    def _frame_first_problem(self) -> None:
        """After an analysis, the worst problem that sits on a node is centred: no problem is out of view until F8."""
        if self._framed or self._pending or self.session.report is None:
            return
        ranked = sorted((p for p in self.session.problems if p.node),
                        key=lambda p: SEVERITIES.index(p.severity) if p.severity in SEVERITIES else len(SEVERITIES))
        if ranked:
            self._framed = True
            self.select_node(ranked[0].node)

    @property
    def marks_current(self) -> bool:
        """Whether the page shows the current marks on a laid-out graph (always true without QtWebEngine)."""
        return self.page is None or self.shown_generation == self.marks_generation

    def marked_elements(self, callback: Callable[[dict[str, list[str]]], object]) -> None:
        """Ask the page which elements carry marks; ``callback({element id: [mark classes]})``."""
        if self.page is None:  # no QtWebEngine: no page, nothing marked
            callback({})
            return
        self.page.runJavaScript(MARKED_SCRIPT, 0, lambda text: callback(json.loads(text or "{}")))

    def open_in_browser(self) -> None:
        if self.server.url:
            QDesktopServices.openUrl(QUrl(self.server.url))

    def select_node(self, name: str) -> None:
        """Select and centre ``name``; a node nested in an If/Loop body selects its parent."""
        names = [name]
        report = self.session.report
        parent = next((n.parent for n in report.nodes if n.name == name and n.parent), "") if report else ""
        if parent:
            names.append(parent)
        self._pending = names
        self._attempts = 0
        self._run_select()

    def _run_select(self) -> None:
        if self.page is None or not self._pending:
            return
        self._attempts += 1
        if not self._page_ready:  # the previous model's page may still be showing
            self._retry_or_give_up()
            return
        self.page.runJavaScript(SELECT_SCRIPT % json.dumps(self._pending), 0, self._on_selected)

    def _on_selected(self, answer: str | None) -> None:
        try:
            result = json.loads(answer or "")
        except (TypeError, ValueError):  # no answer: the page was navigating
            result = {"state": "loading"}
        if result["state"] == "selected":
            self._pending = []
            self.node_shown.emit(result["name"])
        elif result["state"] == "loading":
            self._retry_or_give_up()
        else:
            self._give_up()

    def _retry_or_give_up(self) -> None:
        if self._attempts < _SELECT_ATTEMPTS:
            self._retry.start()
        else:
            self._give_up()

    def _give_up(self) -> None:
        if self._pending:
            self.session.log("info", f"'{self._pending[0]}' is not shown in the graph view.", "graph")
        self._pending = []

    def selected_names(self, callback: Callable[[list[str]], object]) -> None:
        """Ask the page which elements are selected; ``callback(list of names)``."""
        if self.page is None:  # no QtWebEngine: nothing selected
            callback([])
            return
        self.page.runJavaScript(SELECTED_SCRIPT, 0, lambda text: callback(json.loads(text or "[]")))

    def shutdown(self) -> None:
        """Stop the server and release the page before its profile (Qt warns otherwise)."""
        self._retry.stop()
        self.server.stop()
        for widget in (self.view, self.page, self.channel, self.profile):  # deferred deletes run in this order
            if widget is not None:
                widget.deleteLater()
        self.view = self.page = self.channel = self.profile = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
