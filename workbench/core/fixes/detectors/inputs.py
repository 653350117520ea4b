"""Graph inputs TensorRT refuses or mistakes (set-input-dtype), and inputs that steer the graph (freeze-input)."""

from __future__ import annotations

from workbench.core.model.input_roles import steered_nodes
from workbench.core.model.loading import LoadedModel, input_info, iter_nodes, node_label
from workbench.core.model.protos import NodeProto
from workbench.core.problems import Problem, ProblemKind, Severity, Stage

# Element types the TensorRT ONNX parser refuses outright as network inputs (seen with TensorRT-RTX 1.7).
_REFUSED_DTYPES = {"int16", "uint16", "uint32", "uint64", "complex64", "complex128", "object", "str", "string"}


def detect_dtypes(model: LoadedModel, _backend=None) -> list[Problem]:
    graph = model.proto.graph
    consumers: dict[str, list[NodeProto]] = {}
    for node, _ in iter_nodes(graph):
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    problems = []
    for tensor in model.summary().inputs:
        readers = consumers.get(tensor.name, [])
        if tensor.dtype in _REFUSED_DTYPES:
            message = f"Input '{tensor.name}' is {tensor.dtype}, a type TensorRT does not accept for network inputs."
            severity = "error"
        elif tensor.dtype == "uint8" and any(n.op_type != "Cast" for n in readers):
            other = next(n for n in readers if n.op_type != "Cast")
            problems.append(Problem(
                kind=ProblemKind.INPUT_DTYPE, severity=Severity.ERROR, stage=Stage.PARSE,
                node=tensor.name, inputs=[tensor.name],
                message=f"Input '{tensor.name}' is uint8 and feeds {other.op_type} '{node_label(other)}': TensorRT "
                        "only takes a uint8 input that goes straight into a Cast.",
                hint="Re-export with a Cast to float right after the input (TensorRT computes in float)."))
            continue
        elif tensor.dtype == "float64":
            message = (f"Input '{tensor.name}' is float64; TensorRT computes it in float32, so the engine's input "
                       "type differs from the model's.")
            severity = "info"
        else:
            continue
        problems.append(Problem(kind=ProblemKind.INPUT_DTYPE, severity=severity, stage=Stage.PARSE, node=tensor.name,
                                inputs=[tensor.name], fixes=["set-input-dtype"], message=message,
                                hint="Apply set-input-dtype (e.g. dtype=float32): a Cast keeps the graph's meaning."))
    return problems


def detect_switches(model: LoadedModel, _backend=None) -> list[Problem]:
    problems = []
    for name, nodes in steered_nodes(model.proto.graph, model.summary().inputs).items():
        tensor = input_info(model, name)
        problems.append(Problem(
            kind=ProblemKind.CONTROL_INPUT, severity=Severity.WARNING, stage=Stage.MODEL, node=nodes[0], inputs=[name],
            fixes=["freeze-input"],
            message=f"Input '{name}' ({tensor.dtype} {tensor.shape_text()}) decides the graph's structure at run "
                    f"time ({', '.join(nodes[:3])}{' …' if len(nodes) > 3 else ''}); TensorRT handles such "
                    "data-dependent branches and sizes poorly or not at all.",
            hint=f"If you always deploy with one value, apply freeze-input (input={name}) to bake it in and fold "
                 "the branches away."))
    return problems
