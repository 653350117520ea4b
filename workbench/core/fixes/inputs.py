"""Fixes on graph inputs: set-input-shape, set-input-dtype, freeze-input."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.graph_tools import find_input, fold, replace_uses
from workbench.core.model.input_roles import steered_nodes
from workbench.core.model.loading import LoadedModel, input_info
from workbench.core.model.switches import frozen_array
from workbench.core.problems import Problem
from workbench.core.shapes.suggest import known_shapes


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
    transform=_set_dtype_transform, validate=_validate_dtype, suggest=_suggest_dtype,
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
    transform=_freeze_transform, validate=_validate_freeze, suggest=_suggest_freeze,
    invalid_hint="Freeze with fold=false, then apply fold-constants with engine=onnxslim; or freeze another value.",
)
