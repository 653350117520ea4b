"""onnx-graphsurgeon plumbing shared by the fixes: import, export, folding, diffs, lookups."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import external_data_helper
from onnx_graphsurgeon.ir.tensor import LazyValues

from workbench.core import third_party_logs
from workbench.core.model.constant_values import SEE_THROUGH_OPS, gs_constant_value
from workbench.core.errors import WorkbenchError
from workbench.core.model.ir_versions import ir_version_of_opset
from workbench.core.model.loading import iter_nodes, node_label, read_in_weights
from workbench.core.onnxruntime_compat import runtime_limits
from workbench.core.model.tensor_shapes import infer_value_info

# Folding rounds: each inlined If branch can make more constants (and more Ifs on constants).
_MAX_FOLD_ROUNDS = 8


class _ValuesOnDisk(LazyValues):
    """Values of a constant kept on disk, read from the model's folder when first used. onnx-graphsurgeon's own
    LazyValues reads them relative to the working directory, so a fix run from another folder could not read
    them ("should be stored in unet.onnx.data, but it is not regular file")."""

    def __init__(self, tensor: onnx.TensorProto, weights_dir: Path):
        super().__init__(tensor)
        self.weights_dir = weights_dir

    def load(self) -> np.ndarray:
        tensor = onnx.TensorProto()
        tensor.CopyFrom(self.tensor)
        read_in_weights(tensor, self.weights_dir)
        return LazyValues(tensor).load()


def import_graph(proto: onnx.ModelProto, weights_dir: Path | None) -> gs.Graph:
    """``gs.import_onnx``, with the values of weights ``proto`` keeps on disk read from ``weights_dir``."""
    graph = gs.import_onnx(proto)
    if weights_dir is None:
        return graph
    on_disk = {t.name: t for t in external_data_helper._get_all_tensors(proto)
               if external_data_helper.uses_external_data(t)}
    if not on_disk:
        return graph
    for constant in _constants(graph):
        if constant.name in on_disk:
            constant.values = _ValuesOnDisk(on_disk[constant.name], weights_dir)
            # Unread, the values export as the tensor on disk; once read, inline. graphsurgeon would
            # otherwise mark inline bytes as external data, which no reader can follow.
            constant.data_location = None
    return graph


def _constants(graph: gs.Graph):
    """Every constant of ``graph``: initializers and Constant-node values, nested bodies included."""
    for tensor in graph.tensors().values():
        if isinstance(tensor, gs.Constant):
            yield tensor
    for node in graph.nodes:
        for attr in node.attrs.values():
            if isinstance(attr, gs.Constant):
                yield attr
            elif isinstance(attr, gs.Graph):
                yield from _constants(attr)


def export_model(graph: gs.Graph, template: onnx.ModelProto, opset: int | None = None) -> onnx.ModelProto:
    """The graph as a model that keeps the template's IR version, producer and metadata."""
    if opset is not None and opset > graph.opset:
        graph.opset = opset
    proto = gs.export_onnx(graph, do_type_check=False)
    proto.ir_version = max(template.ir_version, ir_version_of_opset(graph.opset))
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
    """Constant folding with onnx-graphsurgeon, inlining the taken branch of every If on a constant.

    graphsurgeon's own If flattening (``flatten_subgraphs``) only rewires branch outputs that a node
    in the branch computes: an output that is a constant (a branch returning ``torch.ones(1)``, or one
    that folded to a constant) or an outer tensor is left with no producer, and the model fails
    ``onnx.checker`` ("… is not output of any previous nodes"). So folding runs without it and
    ``inline_constant_branches`` inlines; each inlined branch may make more constants, hence the rounds.
    """
    # graphsurgeon folds with its own onnxruntime sessions and reports failures through its logger.
    import onnxruntime  # noqa: F401  (imported here so that install() quiets its default logger)

    third_party_logs.install()
    # Those sessions get models exported at each graph's IR version, and If/Loop bodies (which carry
    # none) at the installed onnx's newest, which an older onnxruntime refuses ("Unsupported model IR
    # version: 14, max supported IR version: 13"): fold at one it accepts; export_model sets the real one.
    graphs = [graph, *(attr for node in all_nodes(graph) for attr in node.attrs.values()
                       if isinstance(attr, gs.Graph))]
    saved = [g.ir_version for g in graphs]
    folding_ir = min(saved[0] or onnx.IR_VERSION, runtime_limits().max_ir_version)
    for g in graphs:
        g.ir_version = folding_ir
    try:
        for _round in range(_MAX_FOLD_ROUNDS):
            graph.fold_constants(flatten_subgraphs=False).cleanup()
            if not inline_constant_branches(graph):
                break
        graph.cleanup().toposort()
    finally:
        for g, ir_version in zip(graphs, saved):
            g.ir_version = ir_version
    return graph


def inline_constant_branches(graph: gs.Graph) -> int:
    """Replace each If whose condition is constant by the branch it takes (nested bodies too); returns how many.

    Branch tensors whose names are taken elsewhere in the model are renamed; each If output becomes
    the branch's result under the If output's name, or is read straight from the outer tensor or
    constant the branch returns (through an Identity when it is a graph output, to keep its name).
    """
    inlined = 0
    for node in graph.nodes:
        for subgraph in node.subgraphs():
            inlined += inline_constant_branches(subgraph)
    index = 0
    while index < len(graph.nodes):
        node = graph.nodes[index]
        condition = gs_constant_value(node.inputs[0], graph.opset) if node.op == "If" else None
        if condition is None or condition.size != 1:
            index += 1
            continue
        branch = node.attrs["then_branch" if condition.reshape(-1)[0] else "else_branch"]
        _rename_branch_locals(graph, node, branch)
        replacements = _wire_branch_outputs(graph, node, branch)
        graph.nodes[index:index + 1] = branch.nodes + replacements
        index += len(branch.nodes) + len(replacements)
        inlined += 1
    return inlined


def _names_in(graph: gs.Graph, skip: gs.Graph) -> tuple[set[str], set[str]]:
    """Tensor and node names used in ``graph`` and its nested bodies, except inside ``skip``."""
    tensors, nodes = {t.name for t in graph.inputs + graph.outputs}, set()
    for node in graph.nodes:
        nodes.add(node.name)
        tensors.update(t.name for t in node.inputs + node.outputs)
        for subgraph in node.subgraphs():
            if subgraph is not skip:
                inner_tensors, inner_nodes = _names_in(subgraph, skip)
                tensors |= inner_tensors
                nodes |= inner_nodes
    return tensors, nodes


def _unique(name: str, prefix: str, taken: set[str]) -> str:
    candidate, counter = f"{prefix}/{name}", 1
    while candidate in taken:
        candidate, counter = f"{prefix}/{name}_{counter}", counter + 1
    taken.add(candidate)
    return candidate


def _rename_branch_locals(graph: gs.Graph, if_node: gs.Node, branch: gs.Graph) -> None:
    """Rename the branch's own tensors and nodes whose names the enclosing graph already uses."""
    taken_tensors, taken_nodes = _names_in(graph, skip=branch)
    outer = set(map(id, graph.tensors().values()))
    produced = {id(t) for n in branch.nodes for t in n.outputs}
    prefix = if_node.name or "inlined_if"
    for tensor in branch.tensors().values():
        local = id(tensor) in produced or (isinstance(tensor, gs.Constant) and id(tensor) not in outer)
        if local and tensor.name in taken_tensors:
            tensor.name = _unique(tensor.name, prefix, taken_tensors)
    for node in branch.nodes:
        if node.name and node.name in taken_nodes:
            node.name = _unique(node.name, prefix, taken_nodes)


def _wire_branch_outputs(graph: gs.Graph, if_node: gs.Node, branch: gs.Graph) -> list[gs.Node]:
    """Make every reader of an If output read the branch's result; returns Identity nodes that keep names."""
    produced_here = {id(t) for n in branch.nodes for t in n.outputs}
    visible = graph.tensors()
    claimed: set[int] = set()
    identities = []
    outputs = list(if_node.outputs)
    if_node.outputs.clear()
    for if_output, result in zip(outputs, branch.outputs):
        if id(result) not in produced_here and isinstance(result, gs.Variable):
            # graphsurgeon imports a branch output that names an outer tensor as a separate Variable
            result = visible.get(result.name, result)
        if id(result) in produced_here and id(result) not in claimed:
            claimed.add(id(result))
            result.name = if_output.name  # the branch's own result takes over the name readers know
            result.dtype = result.dtype or if_output.dtype
            result.shape = result.shape or if_output.shape
            replace_uses(graph, if_output, result)
        elif any(t is if_output for t in graph.outputs):
            identities.append(gs.Node("Identity", name=f"{if_node.name or 'inlined_if'}/{if_output.name}",
                                      inputs=[result], outputs=[if_output]))
        else:  # an outer tensor, a constant, or a result already used for another output
            replace_uses(graph, if_output, result)
    return identities


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


def drop_unused_constant(graph: gs.Graph, tensor: gs.Tensor) -> None:
    """Remove the Constant node behind ``tensor`` (and see-through ops over it) once nothing reads it,
    without touching the rest of the graph as a full cleanup would."""
    while not tensor.outputs and not any(t is tensor for t in graph.outputs) and len(tensor.inputs) == 1:
        node = tensor.inputs[0]
        if node.op != "Constant" and node.op not in SEE_THROUGH_OPS:
            return
        index = next((i for i, n in enumerate(graph.nodes) if n is node), None)
        if index is None:  # made in an enclosing graph
            return
        upstream = list(node.inputs)
        del graph.nodes[index]
        node.inputs.clear()
        node.outputs.clear()
        if not upstream:
            return
        tensor = upstream[0]


def gs_label(node: gs.Node) -> str:
    """The same label as ``node_label`` gives the node's ONNX form."""
    return node.name or f"{node.op}({', '.join(t.name for t in node.outputs)})"


def _signature(node: onnx.NodeProto) -> bytes:
    """The node's bytes without what an onnx-graphsurgeon round trip alone changes (doc strings, empty
    tensor names written out), so a preview lists only nodes a fix really changed."""
    written_empty_name = any(a.HasField("t") and a.t.HasField("name") and not a.t.name for a in node.attribute)
    if not node.HasField("doc_string") and not written_empty_name:
        return node.SerializeToString()
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    copy.ClearField("doc_string")
    for attr in copy.attribute:
        if attr.HasField("t") and not attr.t.name:
            attr.t.ClearField("name")
    return copy.SerializeToString()


def _signatures(proto: onnx.ModelProto) -> dict[str, bytes]:
    return {node_label(node): _signature(node) for node, _ in iter_nodes(proto.graph)}


def diff_labels(before: onnx.ModelProto, after: onnx.ModelProto) -> tuple[list[str], list[str], list[str]]:
    """(removed, added, changed) node labels between two models."""
    old, new = _signatures(before), _signatures(after)
    removed = [name for name in old if name not in new]
    added = [name for name in new if name not in old]
    changed = [name for name in new if name in old and old[name] != new[name]]
    return removed, added, changed
