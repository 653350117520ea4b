"""TensorRT support analysis with the real ONNX parser.

``supports_model_v2`` partitions the graph into subgraphs the parser can or cannot take and
records an error for each node that stopped it. We turn that into a status per node (nested If/Loop
nodes reported under their parent) and a problem list, plus the model-level notes an engineer
needs before building (dynamic inputs, onnxruntime compatibility).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from workbench.core.backend import Backend, BackendInfo, LogMessage
from workbench.core.runtime import load_backend
from workbench.core.fixes.detect import detect_problems, suggest_fixes
from workbench.core.model.input_roles import float_shape_tensor_text, is_float
from workbench.core.model.loading import LoadedModel, TensorInfo, iter_nodes
from workbench.core.model.protos import ModelProto
from workbench.core.model.tensor_shapes import infer_value_info
from workbench.core.onnxruntime_compat import compatibility_issues
from workbench.core.problems import Problem, ProblemKind, Severity, Stage, blocking, concise_message


@dataclass
class NodeSupport:
    index: int  # position in the top-level graph; for a nested node, its parent's position
    name: str
    op: str
    status: str  # "supported" or "unsupported"
    subgraph: int | None = None  # index of the parser subgraph that holds it
    parent: str = ""  # enclosing If/Loop node for nested nodes
    has_error: bool = False  # the parser named this node in an error

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ParserErrorInfo:
    code: str
    description: str
    node_index: int
    node_name: str
    op: str
    local_functions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SupportReport:
    backend: BackendInfo
    fully_supported: bool
    nodes: list[NodeSupport]
    problems: list[Problem]
    parser_errors: list[ParserErrorInfo]
    subgraphs: list[tuple[bool, list[int]]]
    log: list[LogMessage]
    seconds: float = 0.0
    # Inputs whose values (not just dims) the engine depends on: each profile needs a range of values.
    shape_tensor_inputs: list[str] = field(default_factory=list)

    @property
    def unsupported_nodes(self) -> list[NodeSupport]:
        return [n for n in self.nodes if n.status == "unsupported"]

    @property
    def blocking_problems(self) -> list[Problem]:
        return blocking(self.problems)

    def to_dict(self) -> dict:
        return {
            "backend": self.backend.to_dict(),
            "fully_supported": self.fully_supported,
            "nodes": [n.to_dict() for n in self.nodes],
            "problems": [p.to_dict() for p in self.problems],
            "parser_errors": [e.to_dict() for e in self.parser_errors],
            "subgraphs": [{"supported": ok, "nodes": nodes} for ok, nodes in self.subgraphs],
            "shape_tensor_inputs": self.shape_tensor_inputs,
            "seconds": round(self.seconds, 4),
        }

    def describe(self) -> str:
        """The backend, the parser's verdict and every problem (the model's own summary is ``describe``d apart)."""
        backend = self.backend
        verdict = ("all nodes supported" if self.fully_supported
                   else f"{len(self.unsupported_nodes)} of {len(self.nodes)} nodes unsupported")
        lines = [f"Backend: {backend.name} {backend.version} — {backend.reason}", f"TensorRT parser: {verdict}"]
        lines += [problem.describe() for problem in self.problems] or ["No problems found."]
        return "\n".join(lines)


def _node_label(node, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


def _parser_problem(error: ParserErrorInfo, top_level: list[str], nested_names: set[str]) -> Problem:
    parent = ""
    if 0 <= error.node_index < len(top_level) and error.node_name != top_level[error.node_index] \
            and error.node_name in nested_names:
        parent = top_level[error.node_index]
    node = error.node_name or (top_level[error.node_index] if 0 <= error.node_index < len(top_level) else "")
    where = f" inside '{parent}'" if parent else ""
    return Problem(
        kind=ProblemKind.PARSER_ERROR, severity=Severity.ERROR, stage=Stage.PARSE,
        node=node, op=error.op, parent=parent,
        node_index=error.node_index if error.node_index >= 0 else None,
        message=f"The TensorRT parser rejected {error.op or 'node'} '{node}'{where}: "
                f"{concise_message(error.description)}",
        detail=error.description + (f"\nLocal function stack: {' > '.join(error.local_functions)}"
                                    if error.local_functions else ""),
    )


def _float_shape_tensor_problems(model: LoadedModel, shape_tensors: list[str]) -> list[Problem]:
    """Float inputs the parser takes as shape tensors: TensorRT refuses them, and no profile can give them values."""
    inputs = {tensor.name: tensor for tensor in model.summary().inputs}
    return [Problem(
        kind=ProblemKind.FLOAT_SHAPE_INPUT, severity=Severity.ERROR, stage=Stage.PARSE, node=name, inputs=[name],
        fixes=["freeze-input"],
        message=f"Input {float_shape_tensor_text(name, inputs[name])}; TensorRT cannot build the model as it is.",
        hint=f"Apply freeze-input (input={name}, value = the one you deploy with, e.g. 0.5): the sizes it computes "
             "become constants. To keep the size adjustable, export it as an integer input (the size itself).")
        for name in shape_tensors if name in inputs and is_float(inputs[name])]


def _model_problems(model: LoadedModel, backend: Backend | None = None) -> list[Problem]:
    problems = []
    for tensor in model.summary().inputs:
        if tensor.is_dynamic:
            dims = ", ".join(str(tensor.shape[i]) for i in tensor.dynamic_dims) if tensor.shape else "all"
            problems.append(Problem(
                kind=ProblemKind.DYNAMIC_INPUT, severity=Severity.INFO, stage=Stage.MODEL,
                node=tensor.name, inputs=[tensor.name],
                message=f"Input '{tensor.name}' {tensor.shape_text()} has dynamic dimensions ({dims}): "
                        "building an engine needs an optimization profile for it.",
                hint="Set min/opt/max shapes in the profile editor, or make the shape static."))
    for issue in compatibility_issues(model.proto):
        problems.append(Problem(kind=ProblemKind.ONNXRUNTIME_COMPAT, severity=Severity.WARNING, stage=Stage.MODEL,
                                message=issue,
                                hint="Comparisons need onnxruntime to run the model."))
    problems.extend(detect_problems(model, backend))
    return problems


def analyze_support(model: LoadedModel, backend: Backend | None = None,
                    log_sink: Callable[[LogMessage], None] | None = None) -> SupportReport:
    """Run the real TensorRT ONNX parser's capability check over ``model``."""
    backend = backend or load_backend()
    started = time.perf_counter()
    logger = backend.logger(log_sink, min_severity="info")
    _builder, network, parser = backend.create_builder_network(logger)
    fully_supported = bool(parser.supports_model_v2(model.serialized, model.parser_path))

    subgraphs = [(bool(parser.is_subgraph_supported(i)), list(parser.get_subgraph_nodes(i)))
                 for i in range(parser.num_subgraphs)]
    errors = _parser_errors(parser)

    graph = model.proto.graph
    top_level = [_node_label(n, i) for i, n in enumerate(graph.node)]
    subgraph_of = {index: sg for sg, (_, indices) in enumerate(subgraphs) for index in indices}
    supported_sg = {sg for sg, (ok, _) in enumerate(subgraphs) if ok}
    error_indices = {e.node_index for e in errors}
    error_names = {e.node_name for e in errors}

    def status(index: int) -> str:
        if fully_supported:
            return "supported"
        return "supported" if subgraph_of.get(index) in supported_sg and index not in error_indices else "unsupported"

    nodes: list[NodeSupport] = []
    nested_names: set[str] = set()
    for index, node in enumerate(graph.node):
        label = top_level[index]
        nodes.append(NodeSupport(index, label, node.op_type, status(index), subgraph_of.get(index),
                                 has_error=index in error_indices and not any(
                                     e.node_index == index and e.node_name not in ("", label) for e in errors)))
        for child, _ in iter_nodes_of(node):
            nested_names.add(child.name)
            nodes.append(NodeSupport(index, child.name or child.op_type, child.op_type, status(index),
                                     subgraph_of.get(index), parent=label,
                                     has_error=bool(child.name) and child.name in error_names))

    problems = [_parser_problem(e, top_level, nested_names) for e in errors]
    errored_subgraphs = {subgraph_of.get(e.node_index) for e in errors}
    typed: dict = {}  # the model with inferred tensor types, made once for all the subgraphs checked
    for sg, (ok, indices) in enumerate(subgraphs):
        if ok or sg in errored_subgraphs or not indices:
            continue
        first = graph.node[indices[0]]
        where = f"subgraph {sg} ({len(indices)} nodes, starting at '{top_level[indices[0]]}')"
        if errors and _parses_on_its_own(model, indices, backend, typed):
            # The capability check marks every subgraph unsupported once any node fails (e.g. a detector's
            # backbone because its NonZero post-processing fails); on its own this one parses.
            supported_sg.add(sg)
            problems.append(Problem(
                kind=ProblemKind.UNSUPPORTED_SUBGRAPH, severity=Severity.INFO, stage=Stage.PARSE,
                node=top_level[indices[0]], op=first.op_type, node_index=indices[0],
                message=f"The parser's capability check lists {where} as unsupported, but cut out on its own it "
                        f"parses (checked): what blocks the model is {_blockers(errors)}.",
                hint="Split for TensorRT (Repair menu) builds this part with TensorRT and runs the rest with "
                     "onnxruntime; or remove what blocks it."))
            continue
        problems.append(Problem(
            kind=ProblemKind.UNSUPPORTED_SUBGRAPH, severity=Severity.ERROR, stage=Stage.PARSE,
            node=top_level[indices[0]],
            op=first.op_type, node_index=indices[0],
            message=f"TensorRT cannot take {where}."))
    if len(supported_sg) > sum(ok for ok, _ in subgraphs):  # statuses follow the checked subgraphs
        for entry in nodes:
            if entry.subgraph in supported_sg and not entry.has_error and entry.index not in error_indices:
                entry.status = "supported"
    shape_tensors = _shape_tensor_names(network)
    problems.extend(_float_shape_tensor_problems(model, shape_tensors))
    problems.extend(_model_problems(model, backend))
    for problem in problems:
        problem.fixes = suggest_fixes(model, problem)
    return SupportReport(backend.info(), fully_supported, nodes, problems, errors, subgraphs,
                         list(logger.messages), time.perf_counter() - started, shape_tensors)


def _parser_errors(parser) -> list[ParserErrorInfo]:
    errors = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        errors.append(ParserErrorInfo(
            code=getattr(err.code(), "name", str(err.code())), description=err.desc(), node_index=err.node(),
            node_name=err.node_name(), op=err.node_operator(),
            local_functions=list(err.local_function_stack()) if hasattr(err, "local_function_stack") else []))
    return errors


def parser_rejections(model: LoadedModel, backend: Backend) -> tuple[list[Problem], list[str]]:
    """The parser's capability check alone: the nodes it rejected, as problems (no fixes, no model notes: what
    a caller checking many cut-out parts needs), and the inputs it takes as shape tensors."""
    _builder, network, parser = backend.create_builder_network(backend.logger(min_severity="error"))
    parser.supports_model_v2(model.serialized, model.parser_path)
    graph = model.proto.graph
    top_level = [_node_label(n, i) for i, n in enumerate(graph.node)]
    nested = {child.name for node in graph.node for child, _ in iter_nodes_of(node)}
    return [_parser_problem(e, top_level, nested) for e in _parser_errors(parser)], _shape_tensor_names(network)


def _blockers(errors: list[ParserErrorInfo]) -> str:
    named = [f"{e.op or 'node'} '{e.node_name}'" for e in errors if e.node_name]
    return ", ".join(named[:3]) + (" …" if len(named) > 3 else "") if named else "a parser error"


def _parses_on_its_own(model: LoadedModel, indices: list[int], backend: Backend, typed: dict) -> bool:
    """Whether the top-level nodes ``indices`` parse when cut out as a model of their own (inputs: what
    they read from other nodes or the graph; outputs: what others or the graph's outputs read)."""
    graph = model.proto.graph
    inside = set(indices)
    produced_inside = {out for i in indices for out in graph.node[i].output}
    read_outside = {name for i, node in enumerate(graph.node) if i not in inside for name in node.input}
    read_outside |= {o.name for o in graph.output}
    initializers = {t.name for t in graph.initializer}
    cut_inputs = sorted({name for i in indices for name in graph.node[i].input
                         if name and name not in produced_inside and name not in initializers})
    cut_outputs = sorted(produced_inside & read_outside)
    if not cut_outputs or any(list(graph.node[i].attribute) and any(a.g.node or a.graphs for a in
                                                                     graph.node[i].attribute) for i in indices):
        return False  # nothing leaves it, or a nested body that may read outer-scope tensors
    import onnx.utils

    try:
        if "extractor" not in typed:
            with_types = ModelProto()
            with_types.CopyFrom(model.proto)
            with_types.graph.value_info.extend(infer_value_info(model.proto, data_prop=True).value_info)
            typed["extractor"] = onnx.utils.Extractor(with_types)
        cut = typed["extractor"].extract_model(cut_inputs, cut_outputs)
    except Exception:  # a cut whose tensors cannot all be typed: keep the parser's verdict
        return False
    _builder, _network, parser = backend.create_builder_network(backend.logger(min_severity="error"))
    return bool(parser.supports_model_v2(cut.SerializeToString(), model.parser_path))


def _shape_tensor_names(network) -> list[str]:
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    return [tensor.name for tensor in inputs if tensor.is_shape_tensor]


def find_shape_tensor_inputs(model: LoadedModel, backend: Backend | None = None) -> list[str]:
    """The inputs TensorRT treats as shape tensors, as its parser decides from how they are used.

    Only integer inputs of rank 0 or 1 can be shape tensors; a model without such inputs is not
    parsed at all.
    """
    if not any(could_be_shape_tensor(t) for t in model.summary().inputs):
        return []
    backend = backend or load_backend()
    _builder, network, parser = backend.create_builder_network(backend.logger(min_severity="error"))
    parser.supports_model_v2(model.serialized, model.parser_path)  # fills the network, as far as it can parse
    return _shape_tensor_names(network)


def could_be_shape_tensor(tensor: TensorInfo) -> bool:
    return tensor.dtype.startswith("int") and tensor.shape is not None and len(tensor.shape) <= 1


def iter_nodes_of(node):
    """Nodes nested in one node's If/Loop/Scan bodies, with their immediate parent's name."""
    for attr in node.attribute:
        for sub in list(attr.graphs) + ([attr.g] if attr.HasField("g") else []):
            yield from iter_nodes(sub, node.name)
