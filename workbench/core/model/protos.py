"""ONNX's protobuf messages without the ``onnx`` package, and what a model's summary needs to read them.

``import onnx`` costs a fresh process ~0.2 s (NumPy, ml_dtypes, its helpers and the C++ checker); loading,
summarising and analysing a model need only its messages. They come from onnx's own generated module
(``onnx/onnx_ml_pb2.py``), run under a private name without running ``onnx/__init__``: protobuf registers the
same descriptors in its default pool either way, so these classes are the very ones ``onnx`` exports
(``type(proto) is onnx.ModelProto`` after a later ``import onnx``, and every onnx function takes them).
When onnx is already imported, or its generated file cannot be found, ``onnx`` itself provides them.

Also here: each element type's name and item size (NumPy's names, "bfloat16" and the float8 names as
ml_dtypes spells them), and the reading of a tensor's external-data references.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

_PRIVATE_NAME = "workbench._onnx_ml_pb2"


def _onnx_messages() -> ModuleType:
    """onnx's generated message module: onnx's own when loaded, else its file run on its own."""
    loaded = sys.modules.get("onnx.onnx_ml_pb2") or sys.modules.get(_PRIVATE_NAME)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("onnx")  # finds the package without running its __init__
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    generated = next((Path(folder) / "onnx_ml_pb2.py" for folder in folders
                      if (Path(folder) / "onnx_ml_pb2.py").is_file()), None)
    file_spec = importlib.util.spec_from_file_location(_PRIVATE_NAME, generated) if generated else None
    if file_spec is None or file_spec.loader is None:
        import onnx  # an onnx laid out differently: its package provides the same classes

        return onnx
    module = importlib.util.module_from_spec(file_spec)
    sys.modules[_PRIVATE_NAME] = module
    try:
        file_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_PRIVATE_NAME]
        raise
    return module


if TYPE_CHECKING:
    from onnx import (IR_VERSION, AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, TensorProto,
                      TypeProto, ValueInfoProto)
else:
    _messages = _onnx_messages()
    IR_VERSION = _messages.IR_VERSION  # the newest IR version the installed onnx writes
    AttributeProto = _messages.AttributeProto
    FunctionProto = _messages.FunctionProto
    GraphProto = _messages.GraphProto
    ModelProto = _messages.ModelProto
    NodeProto = _messages.NodeProto
    TensorProto = _messages.TensorProto
    TypeProto = _messages.TypeProto
    ValueInfoProto = _messages.ValueInfoProto

__all__ = ["IR_VERSION", "AttributeProto", "ExternalData", "FunctionProto", "GraphProto", "ModelProto", "NodeProto",
           "TensorProto", "TypeProto", "ValueInfoProto", "all_tensors", "element_size", "element_type_name",
           "external_data_info", "uses_external_data"]

# Element type → (name, bytes per element), as onnx.helper.tensor_dtype_to_np_dtype answers with NumPy and
# ml_dtypes installed (older onnx releases answer float32 for bfloat16 and the float8 types: not here). Sub-byte
# types count one byte per element, as NumPy stores them.
# Types newer than the oldest supported onnx (1.16) are given by number: its messages have no names for them.
_ELEMENT_TYPES: dict[int, tuple[str, int]] = {
    TensorProto.FLOAT: ("float32", 4), TensorProto.UINT8: ("uint8", 1), TensorProto.INT8: ("int8", 1),
    TensorProto.UINT16: ("uint16", 2), TensorProto.INT16: ("int16", 2), TensorProto.INT32: ("int32", 4),
    TensorProto.INT64: ("int64", 8), TensorProto.STRING: ("object", 8), TensorProto.BOOL: ("bool", 1),
    TensorProto.FLOAT16: ("float16", 2), TensorProto.DOUBLE: ("float64", 8), TensorProto.UINT32: ("uint32", 4),
    TensorProto.UINT64: ("uint64", 8), TensorProto.COMPLEX64: ("complex64", 8),
    TensorProto.COMPLEX128: ("complex128", 16), TensorProto.BFLOAT16: ("bfloat16", 2),
    TensorProto.FLOAT8E4M3FN: ("float8_e4m3fn", 1), TensorProto.FLOAT8E4M3FNUZ: ("float8_e4m3fnuz", 1),
    TensorProto.FLOAT8E5M2: ("float8_e5m2", 1), TensorProto.FLOAT8E5M2FNUZ: ("float8_e5m2fnuz", 1),
    TensorProto.UINT4: ("uint4", 1), TensorProto.INT4: ("int4", 1),
    23: ("float4_e2m1fn", 1), 24: ("float8_e8m0fnu", 1), 25: ("uint2", 1), 26: ("int2", 1),
    27: ("float6_e2m3fn", 1), 28: ("float6_e3m2fn", 1),
}


def element_type_name(elem_type: int) -> str:
    """ONNX element type → NumPy-style name ("float32", "uint8"; "bfloat16" where NumPy has none)."""
    if elem_type == TensorProto.UNDEFINED:
        return "undefined"
    known = _ELEMENT_TYPES.get(elem_type)
    if known is not None:
        return known[0]
    try:
        return TensorProto.DataType.Name(elem_type).lower()
    except ValueError:  # a type newer than the installed onnx
        return f"element type {elem_type}"


def element_size(elem_type: int) -> int:
    """Bytes per element of an ONNX element type (1 for a type this table does not know)."""
    return _ELEMENT_TYPES.get(elem_type, ("", 1))[1]


@dataclass(frozen=True)
class ExternalData:
    """Where a tensor's bytes sit on disk: a file relative to the model's folder, from ``offset``, ``length`` bytes
    (None: to the end of the file)."""

    location: str
    offset: int | None
    length: int | None


def uses_external_data(tensor: TensorProto) -> bool:
    return tensor.HasField("data_location") and tensor.data_location == TensorProto.EXTERNAL


def external_data_info(tensor: TensorProto) -> ExternalData:
    """A tensor's external-data references (``location``, ``offset``, ``length`` keys), as
    ``onnx.external_data_helper.ExternalDataInfo`` reads them."""
    entries = {entry.key: entry.value for entry in tensor.external_data}
    offset, length = entries.get("offset"), entries.get("length")
    return ExternalData(entries.get("location", ""), int(offset) if offset else None,
                        int(length) if length else None)


def all_tensors(model: ModelProto) -> Iterator[TensorProto]:
    """Every tensor that can hold weights, in ``onnx.external_data_helper``'s order: initializers (nested bodies
    included), then tensor attributes (nested bodies and model functions included)."""
    yield from _initializers(model.graph)
    yield from _attribute_tensors(model.graph)
    for function in model.functions:
        yield from _attribute_tensors(function)


def _subgraphs(attribute: AttributeProto) -> list[GraphProto]:
    if attribute.type == AttributeProto.GRAPH:
        return [attribute.g]
    return list(attribute.graphs) if attribute.type == AttributeProto.GRAPHS else []


def _initializers(graph: GraphProto) -> Iterator[TensorProto]:
    yield from graph.initializer
    for node in graph.node:
        for attribute in node.attribute:
            for body in _subgraphs(attribute):
                yield from _initializers(body)


def _attribute_tensors(graph: GraphProto | FunctionProto) -> Iterator[TensorProto]:
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            for body in _subgraphs(attribute):
                yield from _attribute_tensors(body)
