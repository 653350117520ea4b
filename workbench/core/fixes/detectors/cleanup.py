"""Constants that could be folded, and graph parts nothing uses (fold-constants, remove-unused)."""

from __future__ import annotations

from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.loading import LoadedModel, graph_inputs, iter_nodes, node_label
from workbench.core.model.protos import AttributeProto, GraphProto, ModelProto, NodeProto
from workbench.core.problems import Problem, ProblemKind, Severity, Stage


def consumed_names(graph: GraphProto) -> set[str]:
    """Every tensor name some node reads, including reads from inside If/Loop bodies."""
    return {name for node, _ in iter_nodes(graph) for name in node.input if name}


def constant_nodes(proto: ModelProto) -> list[NodeProto]:
    """Top-level nodes whose value is fixed (all inputs constant), other than Constant itself."""
    constants = ConstantValues(proto)
    known: set[str] = set()
    foldable = []
    for node in proto.graph.node:
        if node.op_type == "Constant":
            continue
        has_subgraph = any(a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS) for a in node.attribute)
        if node.input and not has_subgraph and all(not n or n in known or constants.is_source(n) for n in node.input):
            known.update(node.output)
            foldable.append(node)
    return foldable


def detect_foldable(model: LoadedModel, _backend=None) -> list[Problem]:
    foldable = constant_nodes(model.proto)
    if not foldable:
        return []
    names = ", ".join(node_label(n) for n in foldable[:5]) + (" …" if len(foldable) > 5 else "")
    return [Problem(kind=ProblemKind.FOLDABLE_CONSTANTS, severity=Severity.INFO, stage=Stage.MODEL,
                    node=node_label(foldable[0]),
                    op=foldable[0].op_type, fixes=["fold-constants"],
                    message=f"{len(foldable)} node(s) only compute constants ({names}); folding them gives "
                            "TensorRT a smaller, static graph.",
                    hint="Apply fold-constants.")]


def detect_unused(model: LoadedModel, _backend=None) -> list[Problem]:
    graph = model.proto.graph
    used = consumed_names(graph) | {o.name for o in graph.output}
    unused_inputs = [i.name for i in graph_inputs(graph) if i.name not in used]
    unused_weights = [t.name for t in graph.initializer if t.name not in used]
    dead = [node_label(n) for n in graph.node if not any(o in used for o in n.output if o)]
    problems = []
    if unused_inputs:
        problems.append(Problem(kind=ProblemKind.UNUSED_INPUT, severity=Severity.WARNING, stage=Stage.MODEL,
                                inputs=unused_inputs,
                                node=unused_inputs[0], fixes=["remove-unused"],
                                message=f"Input(s) {', '.join(unused_inputs)} feed nothing, yet the engine will "
                                        "still expect data for them.", hint="Apply remove-unused."))
    if unused_weights or dead:
        what = []
        if dead:
            what.append(f"{len(dead)} node(s) whose results are never used ({', '.join(dead[:3])})")
        if unused_weights:
            what.append(f"{len(unused_weights)} unused initializer(s)")
        problems.append(Problem(kind=ProblemKind.UNUSED_GRAPH_PARTS, severity=Severity.INFO, stage=Stage.MODEL,
                                node=dead[0] if dead else "", fixes=["remove-unused"],
                                message="The model carries " + " and ".join(what) + ".",
                                hint="Apply remove-unused."))
    return problems
