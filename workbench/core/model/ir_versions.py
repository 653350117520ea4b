"""Which ONNX IR version a model needs, so that models can be written at one older onnxruntime reads.

onnx stamps every model it makes with its own newest IR version (onnx 1.23: 14), and onnxruntime
refuses anything newer than it was built for ("Unsupported model IR version: 14, max supported IR
version: 13") even when the model uses nothing the newer IR added. Each IR version since 10 only
added element types (and IR 11 the multi-device fields), and each opset came out with an IR
version, so the lowest IR version a model needs can be read off the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.model.loading import iter_nodes
from workbench.core.model.protos import IR_VERSION, AttributeProto, ModelProto, TensorProto, TypeProto

# onnxruntime 1.29, the oldest pyproject.toml allows, reads IR ≤ 13 and opset ≤ 26 (it says so when refusing
# more; tests/core/compare/test_onnxruntime_versions.py checks this against the installed one). Files the
# workbench writes get at most this IR version when they use nothing newer, so every supported onnxruntime
# loads them.
OLDEST_ONNXRUNTIME_MAX_IR = 13
OLDEST_ONNXRUNTIME_MAX_OPSET = 26
# The IR version that added each element type (onnx.proto's Version comments; numbers, since older onnx
# releases have no names for the newest types).
_IR_OF_TYPE = {
    TensorProto.BFLOAT16: 4,
    TensorProto.FLOAT8E4M3FN: 9, TensorProto.FLOAT8E4M3FNUZ: 9, TensorProto.FLOAT8E5M2: 9,
    TensorProto.FLOAT8E5M2FNUZ: 9,
    21: 10, 22: 10,  # UINT4, INT4
    23: 11,  # FLOAT4E2M1
    24: 12,  # FLOAT8E8M0
    25: 13, 26: 13,  # UINT2, INT2
    27: 14, 28: 14,  # FLOAT6E2M3, FLOAT6E3M2
}
_MULTI_DEVICE_IR = 11  # ModelProto.configuration, NodeProto.device_configurations
# An element type newer than any named above: only an IR version at least as new as this onnx can hold it.
_UNKNOWN_TYPE_IR = IR_VERSION


@dataclass(frozen=True)
class IrNeed:
    """The lowest IR version a model can be written at, and what needs it (for messages)."""

    version: int
    reason: str


def required_ir_version(proto: ModelProto) -> IrNeed:
    """The lowest IR version ``proto`` can declare without losing anything: its opset's, or that of the newest
    element type or field it uses."""
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
    need = IrNeed(ir_version_of_opset(opset), f"opset {opset}")
    for elem_type in _element_types(proto):
        version = _IR_OF_TYPE.get(elem_type, _UNKNOWN_TYPE_IR if elem_type > max(_IR_OF_TYPE) else 3)
        if version > need.version:
            need = IrNeed(version, f"the {_type_name(elem_type)} type")
    if _uses_multi_device(proto) and _MULTI_DEVICE_IR > need.version:
        need = IrNeed(_MULTI_DEVICE_IR, "multi-device configuration")
    return need


def ir_version_at_most(proto: ModelProto, limit: int) -> int:
    """The IR version to write ``proto`` at so that a reader of IR ≤ ``limit`` loads it: its own when that is low
    enough, else ``limit`` if the model needs no more, else its own (the reader cannot take it either way)."""
    if proto.ir_version <= limit or required_ir_version(proto).version > limit:
        return proto.ir_version
    return limit


def ir_version_of_opset(opset: int) -> int:
    """The IR version of the first onnx release with this opset (onnx's own release table)."""
    from onnx.helper import VERSION_TABLE

    versions = [ir for _release, ir, ai_onnx, *_ in VERSION_TABLE if ai_onnx >= opset]
    return min(versions) if versions else IR_VERSION


def _type_name(elem_type: int) -> str:
    try:
        return TensorProto.DataType.Name(elem_type)
    except ValueError:
        return f"element type {elem_type}"


def _element_types(proto: ModelProto) -> set[int]:
    types: set[int] = set()
    graphs = [proto.graph, *(g for node, _ in iter_nodes(proto.graph) for a in node.attribute
                             for g in [*a.graphs, *([a.g] if a.HasField("g") else [])])]
    for graph in graphs:
        types.update(t.data_type for t in graph.initializer)
        for value in [*graph.input, *graph.output, *graph.value_info]:
            _collect_type(value.type, types)
    for node, _ in iter_nodes(proto.graph):
        for attr in node.attribute:
            types.update(t.data_type for t in [*attr.tensors, *([attr.t] if attr.HasField("t") else [])])
            if attr.type == AttributeProto.INT and ((node.op_type == "Cast" and attr.name == "to")
                                                         or attr.name in ("dtype", "output_dtype")):
                types.add(attr.i)
    return types


def _collect_type(type_proto: TypeProto, types: set[int]) -> None:
    kind = type_proto.WhichOneof("value")
    if kind in ("tensor_type", "sparse_tensor_type"):
        types.add(getattr(type_proto, kind).elem_type)
    elif kind in ("sequence_type", "optional_type"):
        _collect_type(getattr(type_proto, kind).elem_type, types)
    elif kind == "map_type":
        types.add(type_proto.map_type.key_type)
        _collect_type(type_proto.map_type.value_type, types)


def _uses_multi_device(proto: ModelProto) -> bool:
    fields = {f.name for f, _ in proto.ListFields()}
    return "configuration" in fields or any(
        "device_configurations" in {f.name for f, _ in node.ListFields()} for node, _ in iter_nodes(proto.graph))
