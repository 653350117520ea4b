"""Fixes on graph inputs: set-input-shape, set-input-dtype, freeze-input."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.graph_tools import find_input, fold, node_label, replace_uses
from workbench.core.model.input_roles import steered_nodes
from workbench.core.model.loading import LoadedModel, input_info, iter_nodes
from workbench.core.model.switches import frozen_array
from workbench.core.problems import Problem, ProblemKind, Severity, Stage
from workbench.core.shapes.suggest import known_shapes

# Element types the TensorRT ONNX parser refuses outright as network inputs (seen with TensorRT-RTX 1.7).
_REFUSED_DTYPES = {"int16", "uint16", "uint32", "uint64", "complex64", "complex128", "object", "str", "string"}


def _onnx_dtype(name: str) -> int:
    return onnx.TensorProto.BFLOAT16 if name == "bfloat16" else onnx.helper.np_dtype_to_tensor_dtype(np.dtype(name))


def _gs_dtype(name: str):
    return onnx.TensorProto.BFLOAT16 if name == "bfloat16" else np.dtype(name)


# --- set-input-shape ---------------------------------------------------------------------------

def _validate_shape(model: LoadedModel, params: dict) -> None:
    tensor = input_info(model, params["input"])
    shape = params["shape"]
    if tensor.shape is not None and len(shape) != len(tensor.shape):
        raise WorkbenchError(f"Shape {'x'.join(map(str, shape))} has rank {len(shape)}, but input '{tensor.name}' "
                             f"{tensor.shape_text()} has rank {len(tensor.shape)}.", "Give one value per dimension.")
    for axis, (given, declared) in enumerate(zip(shape, tensor.shape or ())):
        if isinstance(declared, int) and declared > 0 and given != declared:
            raise WorkbenchError(f"Dimension {axis} of input '{tensor.name}' is fixed at {declared} in the model; "
                                 f"{given} would contradict the weights.", "Only dynamic dimensions can be set.")


def _set_shape_transform(graph: gs.Graph, params: dict, context: FixContext, _model) -> gs.Graph:
    target = find_input(graph, params["input"])
    target.shape = list(params["shape"])
    # Symbolic shapes downstream are stale now; shape inference recomputes them from the new input.
    for tensor in graph.tensors().values():
        if isinstance(tensor, gs.Variable) and tensor not in graph.inputs and tensor.shape is not None \
                and not all(isinstance(d, int) and d >= 0 for d in tensor.shape):
            tensor.shape = None
    context.infer_shapes = True
    return graph


def _suggest_shape(model: LoadedModel, problem: Problem | None) -> dict[str, str]:
    name = problem.inputs[0] if problem and problem.inputs else next(
        (t.name for t in model.summary().inputs if t.is_dynamic), "")
    if not name:
        return {}
    shape = known_shapes(model).shapes().get(name)
    return {"input": name, "shape": "x".join(map(str, shape))} if shape else {"input": name}


# --- set-input-dtype ---------------------------------------------------------------------------

def _detect_dtypes(model: LoadedModel, _backend=None) -> list[Problem]:
    graph = model.proto.graph
    consumers: dict[str, list[onnx.NodeProto]] = {}
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


def _validate_dtype(model: LoadedModel, params: dict) -> None:
    tensor = input_info(model, params["input"])
    if tensor.dtype == params["dtype"]:
        raise WorkbenchError(f"Input '{tensor.name}' is already {tensor.dtype}.", "Choose a different dtype.")


def _holds_every_value(old_dtype: str, new_dtype: str) -> bool:
    if "bfloat16" in (old_dtype, new_dtype):
        return old_dtype == new_dtype
    return bool(np.can_cast(np.dtype(old_dtype), np.dtype(new_dtype), "safe"))


def _set_dtype_transform(graph: gs.Graph, params: dict, context: FixContext, _model) -> gs.Graph:
    old = find_input(graph, params["input"])
    old_dtype = _dtype_text(old.dtype)
    new = gs.Variable(old.name, dtype=_gs_dtype(params["dtype"]), shape=old.shape)
    old.name = f"{new.name}_as_{old_dtype}"
    graph.inputs = [new if t is old else t for t in graph.inputs]
    readers = list(old.outputs)
    if readers and all(n.op == "Cast" for n in readers) and _holds_every_value(old_dtype, params["dtype"]):
        # The graph only converts the input: those Casts can read the wider type directly, so no tensor of the
        # old type (which TensorRT may refuse, like int16 or a uint8 feeding more than a Cast) is left.
        for reader in readers:
            reader.inputs[0] = new
        context.warnings.append(f"'{new.name}' now takes {params['dtype']}; the Casts that read it convert from "
                                f"{params['dtype']} directly (identical for every {old_dtype} value).")
        return graph.cleanup()
    cast = gs.Node("Cast", name=f"{new.name}/cast_to_{old_dtype}", attrs={"to": _onnx_dtype(old_dtype)},
                   inputs=[new], outputs=[old])
    graph.nodes.insert(0, cast)
    if not _holds_every_value(params["dtype"], old_dtype):
        context.warnings.append(f"'{new.name}' now takes {params['dtype']} values and casts them to {old_dtype}: "
                                "feed the same values as before (others are rounded or wrapped).")
    return graph


def _dtype_text(dtype) -> str:
    if isinstance(dtype, int):
        return onnx.TensorProto.DataType.Name(dtype).lower()
    return np.dtype(dtype).name


def _suggest_dtype(model: LoadedModel, problem: Problem | None) -> dict[str, str]:
    if problem and problem.inputs:
        return {"input": problem.inputs[0], "dtype": "float32"}
    return {}


# --- freeze-input ------------------------------------------------------------------------------

def _detect_switches(model: LoadedModel, _backend=None) -> list[Problem]:
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


def _validate_freeze(model: LoadedModel, params: dict) -> None:
    frozen_array(model, params["input"], params["value"])
    if len(model.summary().inputs) == 1:
        raise WorkbenchError(f"'{params['input']}' is the model's only input; freezing it leaves nothing to feed.",
                             "Freeze switch-like inputs (ratios, flags), not the data input.")


def _freeze_transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    value = frozen_array(model, params["input"], params["value"])
    variable = find_input(graph, params["input"])
    graph.inputs = [t for t in graph.inputs if t is not variable]
    variable.name = f"{params['input']}_input"
    replace_uses(graph, variable, gs.Constant(params["input"], value))
    context.frozen_inputs[params["input"]] = value
    if params["fold"]:
        fold(graph)
        context.infer_shapes = True
    return graph


def _suggest_freeze(model: LoadedModel, problem: Problem | None) -> dict[str, str]:
    switches = steered_nodes(model.proto.graph, model.summary().inputs)
    if problem and problem.inputs and problem.inputs[0] in switches:
        return {"input": problem.inputs[0]}
    for name, nodes in switches.items():
        if problem is None or problem.node in nodes or problem.parent in nodes:
            return {"input": name}
    return {}


SET_INPUT_SHAPE = Fix(
    name="set-input-shape", title="Set input shape",
    changes_meaning="the input's shape becomes fixed: the engine takes no other shape",
    description="Make an input's dynamic dimensions static (e.g. 1x3x512x512), then re-infer the shapes "
                "downstream. The engine then needs no optimization profile for that input.",
    params=(Param("input", "input", "The graph input to change."),
            Param("shape", "shape", "The full static shape, dims joined by 'x' (e.g. 1x3x512x512).")),
    transform=_set_shape_transform, validate=_validate_shape, suggest=_suggest_shape,
    invalid_hint="The graph cannot compute at this shape (e.g. a skip connection needs spatial sizes that are "
                 "multiples of the network's stride, or a Reshape bakes a size in): choose a shape the model was "
                 "made for, or keep the input dynamic and use an optimization profile.",
    needs_weights=False,
)

SET_INPUT_DTYPE = Fix(
    name="set-input-dtype", title="Set input dtype",
    changes_meaning="",  # keeps what the model computes
    description="Give an input a new dtype (e.g. uint8 → float32) and insert a Cast back to the old dtype right "
                "after it, so the rest of the graph computes exactly what it did.",
    params=(Param("input", "input", "The graph input to change."),
            Param("dtype", "dtype", "The new dtype (float32, float16, int32, …).")),
    transform=_set_dtype_transform, detect=_detect_dtypes, validate=_validate_dtype, suggest=_suggest_dtype,
    needs_weights=False,
)

FREEZE_INPUT = Fix(
    name="freeze-input", title="Freeze input",
    changes_meaning="the input becomes a constant: the engine always computes with this value",
    description="Replace an input by a constant (e.g. a downsample ratio or a sample rate), then fold constants so "
                "the If/Loop branches and Resize scales that depended on it become static.",
    params=(Param("input", "input", "The graph input to replace by a constant."),
            Param("value", "values", "Its value: one number, or one per element separated by ';'."),
            Param("fold", "bool", "Fold constants afterwards (removes the branches that depended on it).",
                  required=False, default=True)),
    transform=_freeze_transform, detect=_detect_switches, validate=_validate_freeze, suggest=_suggest_freeze,
    invalid_hint="Freeze with fold=false, then apply fold-constants with engine=onnxslim; or freeze another value.",
)
