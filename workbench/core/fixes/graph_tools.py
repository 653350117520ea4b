"""onnx-graphsurgeon plumbing shared by the fixes: import, export, folding, diffs, lookups."""

from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs

from workbench.core import third_party_logs
from workbench.core.errors import WorkbenchError
from workbench.core.model import iter_nodes
from workbench.core.onnxruntime_compat import runtime_limits
from workbench.core.tensor_shapes import infer_value_info

# The IR version each opset needs at least (ONNX's versioning table, for the opsets fixes raise to).
_MIN_IR_FOR_OPSET = {18: 8, 19: 9, 20: 9, 21: 10}


def export_model(graph: gs.Graph, template: onnx.ModelProto, opset: int | None = None) -> onnx.ModelProto:
    """The graph as a model that keeps the template's IR version, producer and metadata."""
    if opset is not None and opset > graph.opset:
        graph.opset = opset
    proto = gs.export_onnx(graph, do_type_check=False)
    proto.ir_version = max(template.ir_version, _MIN_IR_FOR_OPSET.get(graph.opset, 0))
    for key in ("producer_name", "producer_version", "domain", "model_version", "doc_string"):
        setattr(proto, key, getattr(template, key))
    del proto.metadata_props[:]
    proto.metadata_props.extend(template.metadata_props)
    return proto


def infer_shapes(proto: onnx.ModelProto) -> onnx.ModelProto:
    """ONNX shape inference with data propagation, as ``polygraphy surgeon sanitize`` runs it.

    Fills ``proto``'s value_info and output types in place (and returns it); the inference itself
    runs on a copy without the weights, so its cost does not grow with the model's size.
    """
    try:
        inferred = infer_value_info(proto, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise WorkbenchError("ONNX shape inference failed on the fixed model.",
                             "The model may be inconsistent; check the step before this one.", str(exc)) from exc
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(inferred.value_info)
    del proto.graph.output[:]
    proto.graph.output.extend(inferred.output)
    return proto


def fold(graph: gs.Graph) -> gs.Graph:
    """Constant folding with onnx-graphsurgeon (If branches on constants are inlined), then cleanup."""
    # graphsurgeon folds with its own onnxruntime sessions and reports failures through its logger.
    third_party_logs.install()
    # Those sessions get models exported at each graph's IR version, and If/Loop bodies (which carry
    # none) at the installed onnx's newest, which an older onnxruntime refuses ("Unsupported model IR
    # version: 14, max supported IR version: 13"): fold at one it accepts; export_model sets the real one.
    graphs = [graph, *(attr for node in all_nodes(graph) for attr in node.attrs.values()
                       if isinstance(attr, gs.Graph))]
    saved = [getattr(g, "ir_version", None) for g in graphs]  # onnx-graphsurgeon 0.5.2 has no ir_version
    folding_ir = min(saved[0] or onnx.IR_VERSION, runtime_limits().max_ir_version)
    for g in graphs:
        g.ir_version = folding_ir
    try:
        graph.fold_constants().cleanup().toposort()
    finally:
        for g, ir_version in zip(graphs, saved):
            g.ir_version = ir_version
    return graph


def find_tensor(graph: gs.Graph, name: str, what: str = "tensor") -> gs.Tensor:
    found = graph.tensors().get(name)
    if found is None:
        raise WorkbenchError(f"The model has no {what} named '{name}'.", "Check the name in the graph view.")
    return found


def find_input(graph: gs.Graph, name: str) -> gs.Variable:
    for tensor in graph.inputs:
        if tensor.name == name:
            return tensor
    raise WorkbenchError(f"The model has no input named '{name}'.",
                         f"Its inputs are: {', '.join(t.name for t in graph.inputs) or 'none'}.")


def all_nodes(graph: gs.Graph):
    """Every node, nested If/Loop bodies included."""
    for node in graph.nodes:
        yield node
        for attr in node.attrs.values():
            if isinstance(attr, gs.Graph):
                yield from all_nodes(attr)


def replace_uses(graph: gs.Graph, old: gs.Tensor, new: gs.Tensor) -> None:
    """Point every consumer of ``old`` (including nodes inside subgraphs) at ``new``."""
    for node in all_nodes(graph):
        for i, tensor in enumerate(node.inputs):
            if tensor is old:
                node.inputs[i] = new
    graph.outputs = [new if t is old else t for t in graph.outputs]


def node_label(node: onnx.NodeProto) -> str:
    return node.name or f"{node.op_type}({', '.join(node.output)})"


def gs_label(node: gs.Node) -> str:
    """The same label as ``node_label`` gives the node's ONNX form."""
    return node.name or f"{node.op}({', '.join(t.name for t in node.outputs)})"


def _signatures(proto: onnx.ModelProto) -> dict[str, bytes]:
    return {node_label(node): node.SerializeToString() for node, _ in iter_nodes(proto.graph)}


def diff_labels(before: onnx.ModelProto, after: onnx.ModelProto) -> tuple[list[str], list[str], list[str]]:
    """(removed, added, changed) node labels between two models."""
    old, new = _signatures(before), _signatures(after)
    removed = [name for name in old if name not in new]
    added = [name for name in new if name not in old]
    changed = [name for name in new if name in old and old[name] != new[name]]
    return removed, added, changed
