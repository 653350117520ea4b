"""rename-dims: input dims that share a placeholder name ('?', 'unk__N') get names of their own.

TensorRT's ONNX parser takes dims that share a name to be one dimension. paddle2onnx writes '?' for every
dynamic dim, so PaddleOCR's classifier x: [?, 3, ?, ?] builds only for profiles with batch = H = W. Each
such dim gets a name that says what it is (``x_height``, ``x_width``; ``x_dim1`` where the place says
nothing); real names shared for a reason (``batch`` on several inputs) stay shared unless named. Output
dims that carried a replaced name get names of their own too, and intermediate tensors' declared dims that
carried one become unnamed (they would tie the graph's inner shapes to a name that no longer exists).
Only declarations change: what the model computes does not.
"""

from __future__ import annotations

import onnx_graphsurgeon as gs

from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.detectors.dim_names import Use, new_dim_names, placeholder_names
from workbench.core.model.loading import LoadedModel


def _targets(model: LoadedModel, params: dict) -> list[str]:
    return list(params.get("names") or placeholder_names(model))


def _validate(model: LoadedModel, params: dict) -> None:
    inputs = model.summary().inputs
    declared = list(dict.fromkeys(d for t in inputs for d in (t.shape or ()) if isinstance(d, str) and d))
    unknown = [name for name in params.get("names", []) if name not in declared]
    if unknown:
        raise WorkbenchError(f"No input dim is named {', '.join(repr(n) for n in unknown)}.",
                             f"The inputs' dim names are: {', '.join(repr(n) for n in declared) or 'none'}.")
    if not _targets(model, params):
        raise WorkbenchError("No placeholder dim name ('?', 'unk__N', '-1') is shared by several input dims of "
                             "this model, so TensorRT forces no unrelated dims equal.",
                             "To give the dims of a real name names of their own, name it: names=NAME.")


def _rename(tensor: gs.Variable, renamed: dict[Use, str]) -> None:
    tensor.shape = [renamed.get((tensor.name, axis), dim) for axis, dim in enumerate(tensor.shape)]


def _clear_stale(graph: gs.Graph, targets: set[str], declared: set[int]) -> None:
    """Unname the dims of every tensor not declared at the graph's boundary (nested bodies included)."""
    for tensor in graph.tensors().values():
        if id(tensor) not in declared and isinstance(tensor, gs.Variable) and tensor.shape is not None:
            tensor.shape = [None if dim in targets else dim for dim in tensor.shape]
    for node in graph.nodes:
        for body in node.subgraphs():
            _clear_stale(body, targets, declared)


def _transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    targets = _targets(model, params)
    renamed = new_dim_names(model, targets)
    boundary = [t for t in graph.outputs if all(t is not i for i in graph.inputs)] + list(graph.inputs)
    for tensor in boundary:
        if tensor.shape is not None:
            _rename(tensor, renamed)
    _clear_stale(graph, set(targets), {id(t) for t in boundary})
    return graph


RENAME_DIMS = Fix(
    name="rename-dims", title="Rename shared dims",
    changes_meaning="",  # keeps what the model computes
    description="Give input dims that share a placeholder name ('?', 'unk__N') names of their own (x_height, "
                "x_width, …): TensorRT takes dims that share a name to be equal, so an image whose H and W are "
                "both '?' builds only square. Names shared for a reason (batch) stay unless named.",
    params=(Param("names", "names", "The dim names to replace, separated by ';' (default: every placeholder name "
                                    "several input dims share).", required=False),),
    transform=_transform, validate=_validate,
    needs_weights=False,
)
