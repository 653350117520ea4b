"""Each stage of a partition as a valid ONNX model of its own, and the tensors handed between them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import onnx
from onnx import helper

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, graph_inputs
from workbench.core.model.protos import element_type_name
from workbench.core.model.tensor_shapes import infer_value_info
from workbench.core.split.partition import ONNXRUNTIME, TENSORRT, Assignment, _reads, is_free, node_label


@dataclass
class Boundary:
    """A tensor one part computes and a later part reads."""
    name: str
    dtype: str
    shape: list  # ints, or names for dims that are not static
    producer: int  # part index
    consumers: list[int]
    observed_shape: list[int] = field(default_factory=list)  # what the validation run saw

    @property
    def static(self) -> bool:
        return all(isinstance(d, int) and d >= 0 for d in self.shape)

    def to_dict(self) -> dict:
        return {**asdict(self), "static": self.static}


@dataclass
class Part:
    index: int
    runtime: str  # TENSORRT or ONNXRUNTIME
    file: str
    nodes: list[str]
    inputs: list[str]
    outputs: list[str]
    model: LoadedModel = field(repr=False)
    # node → why it runs under onnxruntime (the problem that forced it out of TensorRT)
    reasons: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"index": self.index, "runtime": self.runtime, "file": self.file, "nodes": len(self.nodes),
                "node_names": self.nodes, "inputs": self.inputs, "outputs": self.outputs, "reasons": self.reasons}


def file_names(runtimes: list[str]) -> list[str]:
    """trt_part.onnx, rest.onnx; with more parts of a runtime, trt_part_2.onnx, rest_2.onnx …"""
    counts = {TENSORRT: 0, ONNXRUNTIME: 0}
    stems = {TENSORRT: "trt_part", ONNXRUNTIME: "rest"}
    names = []
    for runtime in runtimes:
        counts[runtime] += 1
        names.append(f"{stems[runtime]}{'' if counts[runtime] == 1 else f'_{counts[runtime]}'}.onnx")
    return names


def known_types(proto: onnx.ModelProto) -> dict[str, onnx.ValueInfoProto]:
    """Declared and inferred types of the top-level tensors (what shape inference can tell)."""
    try:
        inferred = infer_value_info(proto, data_prop=True)
        infos = list(inferred.value_info) + list(inferred.output)
    except Exception:  # noqa: BLE001 - a model shape inference cannot handle: the validation run's dtypes fill in
        infos = []
    found = {v.name: v for v in infos if v.type.tensor_type.elem_type}
    found.update({v.name: v for v in list(graph_inputs(proto.graph)) + list(proto.graph.output)
                  if v.type.tensor_type.elem_type})
    return found


def static_names(types: dict[str, onnx.ValueInfoProto]) -> set[str]:
    def static(info: onnx.ValueInfoProto) -> bool:
        shape = info.type.tensor_type
        return shape.HasField("shape") and all(d.HasField("dim_value") for d in shape.shape.dim)
    return {name for name, info in types.items() if static(info)}


def _value_info(name: str, types: dict[str, onnx.ValueInfoProto],
                observed: dict[str, np.ndarray]) -> onnx.ValueInfoProto:
    if name in types:
        info = onnx.ValueInfoProto()
        info.CopyFrom(types[name])
        return info
    if name not in observed:
        raise WorkbenchError(f"The type of tensor '{name}' at a part boundary is unknown.",
                             "Run fold-constants first (it runs shape inference), or give input shapes.")
    array = observed[name]
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    return helper.make_tensor_value_info(name, elem, [f"{name}_dim{i}" for i in range(array.ndim)])


def _shape_of(info: onnx.ValueInfoProto) -> list:
    tensor = info.type.tensor_type
    if not tensor.HasField("shape"):
        return []
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]


def cut_model(proto: onnx.ModelProto, members: list[int], types: dict[str, onnx.ValueInfoProto],
              observed: dict[str, np.ndarray], graph_name: str, producer_name: str) -> tuple[onnx.ModelProto,
                                                                                           list[str], list[str]]:
    """The top-level nodes ``members`` (indices, in graph order) of ``proto`` as a model of their own, unchecked.

    Its inputs are the model inputs they read, then the tensors other nodes compute for them; its outputs are
    what they compute that the model returns or other nodes read. Constants they read come along (Constant
    nodes copied, initializers kept); every new input and output is typed from ``types``, else from the value
    ``observed`` for it. Returns the model, its input names and its output names.
    """
    graph = proto.graph
    nodes = list(graph.node)
    inside = set(members)
    reads = list(dict.fromkeys(n for i in members for n in _reads(nodes[i])))
    produced = {o for i in members for o in nodes[i].output if o}
    producer = {o for n in nodes if not is_free(n) for o in n.output if o}
    read_elsewhere = {n for i, node in enumerate(nodes) if i not in inside and not is_free(node)
                      for n in _reads(node)}
    model_outputs = {o.name for o in graph.output}
    constants = {o: n for n in nodes if is_free(n) for o in n.output}
    initializers = {t.name: t for t in graph.initializer}
    inputs = [i.name for i in graph_inputs(graph) if i.name in reads] + \
        [n for n in reads if n in producer and n not in produced]
    outputs = [n for n in dict.fromkeys(o for i in members for o in nodes[i].output if o)
               if n in model_outputs or n in read_elsewhere]
    used_constants = [constants[n] for n in reads if n in constants and n not in produced]
    cut_graph = helper.make_graph(
        [*used_constants, *(nodes[i] for i in members)], graph_name,
        [_value_info(n, types, observed) for n in inputs], [_value_info(n, types, observed) for n in outputs],
        initializer=[initializers[n] for n in reads if n in initializers])
    cut = helper.make_model(cut_graph, opset_imports=list(proto.opset_import), ir_version=proto.ir_version,
                            functions=list(proto.functions), producer_name=producer_name)
    return cut, inputs, outputs


def build_parts(model: LoadedModel, assignment: Assignment, types: dict[str, onnx.ValueInfoProto],
                observed: dict[str, np.ndarray]) -> tuple[list[Part], list[Boundary]]:
    """One checked ONNX model per stage (empty stages dropped), in running order, and the boundaries."""
    proto = model.full_proto()
    graph = proto.graph
    nodes = list(graph.node)
    stages = assignment.stages
    part_of = {index: stages.index(st) for index, st in assignment.stage.items()}
    runtimes = [TENSORRT if st % 2 == 0 else ONNXRUNTIME for st in stages]
    names = file_names(runtimes)
    producer = {o: part_of[i] for i, n in enumerate(nodes) if i in part_of for o in n.output if o}

    parts: list[Part] = []
    boundaries: dict[str, Boundary] = {}
    for p, runtime in enumerate(runtimes):
        members = [i for i in sorted(part_of) if part_of[i] == p]
        part_proto, part_inputs, part_outputs = cut_model(proto, members, types, observed,
                                                          f"{graph.name or 'model'}_part{p + 1}", "trt-workbench split")
        try:
            onnx.checker.check_model(part_proto)
        except onnx.checker.ValidationError as exc:
            raise WorkbenchError(f"Part {p + 1} ({names[p]}) is not a valid ONNX model: {str(exc).splitlines()[0]}",
                                 "Report this model; try --max-parts 2.", str(exc)) from exc
        reasons = {node_label(nodes[i]): assignment.why[i] for i in members if i in assignment.why}
        parts.append(Part(p, runtime, names[p], [node_label(nodes[i]) for i in members], part_inputs, part_outputs,
                          LoadedModel.from_proto(part_proto), reasons))
        for name in part_inputs:
            if name in producer:
                info = _value_info(name, types, observed)
                boundary = boundaries.setdefault(name, Boundary(
                    name, element_type_name(info.type.tensor_type.elem_type), _shape_of(info), producer[name], [],
                    list(observed[name].shape) if name in observed else []))
                boundary.consumers.append(p)
    return parts, list(boundaries.values())
