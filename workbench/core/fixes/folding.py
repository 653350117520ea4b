"""Graph clean-up fixes: fold-constants, remove-unused, cut-outputs."""

from __future__ import annotations

import onnx_graphsurgeon as gs

from workbench.core import third_party_logs
from workbench.core.onnxruntime_compat import runtime_limits
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.base import Fix, FixContext, Param
from workbench.core.fixes.graph_tools import export_model, find_tensor, fold, import_graph
from workbench.core.model.ir_versions import ir_version_at_most
from workbench.core.model.loading import LoadedModel, graph_inputs, iter_nodes

FOLD_ENGINES = ("graphsurgeon", "onnxslim")


def _fold_transform(graph: gs.Graph, params: dict, context: FixContext, model: LoadedModel) -> gs.Graph:
    context.infer_shapes = True
    if params["engine"] == "onnxslim":
        import onnxslim

        third_party_logs.install()  # now that onnxslim is imported, its loggers too
        exported = export_model(graph, model.proto)
        # onnxslim folds with onnxruntime sessions, which refuse an IR version newer than they read.
        exported.ir_version = ir_version_at_most(exported, runtime_limits().max_ir_version)
        slimmed = onnxslim.slim(exported)
        if slimmed is None:
            raise WorkbenchError("onnxslim could not simplify this model.", "Use engine=graphsurgeon instead.")
        return import_graph(slimmed, model.weights_dir)
    return fold(graph)


def _remove_unused_transform(graph: gs.Graph, _params: dict, context: FixContext, _model) -> gs.Graph:
    produced = {t.name for node in graph.nodes for t in node.outputs}
    graph.outputs = [t for t in graph.outputs if t.name in produced]
    if not graph.outputs:
        raise WorkbenchError("No node computes any of the model's outputs; removing unused parts would leave nothing.")
    return graph.cleanup(remove_unused_graph_inputs=True).toposort()


def _validate_cut(model: LoadedModel, params: dict) -> None:
    known = {name for node, _ in iter_nodes(model.proto.graph) for name in node.output} | \
        {i.name for i in graph_inputs(model.proto.graph)}
    missing = [name for name in params["tensors"] if name not in known]
    if missing:
        raise WorkbenchError(f"The model has no tensor named {', '.join(repr(m) for m in missing)}.",
                             "Use names of node outputs as the graph view shows them.")


def _cut_transform(graph: gs.Graph, params: dict, context: FixContext, _model) -> gs.Graph:
    outputs = []
    for name in params["tensors"]:
        tensor = find_tensor(graph, name)
        if tensor.dtype is None:
            raise WorkbenchError(f"The type of tensor '{name}' is unknown, so it cannot become an output.",
                                 "Apply fold-constants first (it runs shape inference).")
        outputs.append(tensor)
    graph.outputs = outputs
    return graph.cleanup(remove_unused_graph_inputs=True).toposort()


FOLD_CONSTANTS = Fix(
    name="fold-constants", title="Fold constants",
    changes_meaning="",  # keeps what the model computes
    description="Evaluate every part of the graph that only depends on constants, drop what is left unused, "
                "sort the nodes and run shape inference (what `polygraphy surgeon sanitize --fold-constants` "
                "does). engine=onnxslim uses onnxslim, a stronger simplifier that also removes redundant ops.",
    params=(Param("engine", "choice", "Folding engine: graphsurgeon (onnx-graphsurgeon) or onnxslim.",
                  required=False, default="graphsurgeon", choices=FOLD_ENGINES),),
    transform=_fold_transform, needs_shapes=True,
    invalid_hint="Try the other engine (engine=onnxslim or engine=graphsurgeon).",
)

REMOVE_UNUSED = Fix(
    name="remove-unused", title="Remove unused parts",
    changes_meaning="",  # keeps what the model computes
    description="Drop graph inputs nothing reads, outputs no node computes, initializers nothing uses and nodes "
                "whose results are never used.",
    params=(), transform=_remove_unused_transform,
    needs_weights=False,
)

CUT_OUTPUTS = Fix(
    name="cut-outputs", title="Cut outputs",
    changes_meaning="the model's outputs change: what came after them must run outside the engine",
    description="Make the chosen tensors the model's outputs and drop everything that no longer feeds them, "
                "e.g. end the engine before NonMaxSuppression and run NMS outside TensorRT.",
    params=(Param("tensors", "tensors",
                  "Tensor names that become the outputs, separated by ';' (e.g. boxes;scores)."),),
    transform=_cut_transform, validate=_validate_cut, needs_shapes=True,
    needs_weights=False,
)
