"""Loading ONNX models safely, summarising them, and saving them atomically.

A ``LoadedModel`` holds the graph without its weights: big inline weights are read as references
into the model file itself (``weight_free``), and external data stays where it is. The TensorRT
parser and onnxruntime read the weights from disk themselves; ``LoadedModel.full_proto`` reads them
in only for transforms that need their values. Saving streams the referenced bytes into the new
file, one tensor at a time.
"""
from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from google.protobuf.message import DecodeError

from workbench.core.errors import WorkbenchError
from workbench.core.model.chunked_parse import parse_model_in_chunks
from workbench.core.model.protos import (AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
                                         all_tensors, element_size, element_type_name, external_data_info,
                                         uses_external_data)
from workbench.core.model.weight_free import read_weight_free
from workbench.core.progress import ProgressFn, no_progress

# Files people mistake for ONNX models, by their first bytes.
_KNOWN_SIGNATURES = [
    (b"PK\x03\x04", "a ZIP archive (a PyTorch checkpoint is one: export it with torch.onnx.export first)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"\x89HDF", "an HDF5 file (a Keras model? convert it with tf2onnx first)"),
    (b"ftrt", "a TensorRT engine (open the ONNX model it was built from)"),
]
# A serialized ModelProto starts with field 1 (ir_version, varint) in every exporter we know.
_ONNX_FIRST_BYTE = 0x08


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: dims are ints, symbolic names (str) or None when unknown."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None

    @property
    def dynamic_dims(self) -> list[int]:
        if self.shape is None:
            return []
        return [i for i, d in enumerate(self.shape) if not (isinstance(d, int) and d > 0)]

    @property
    def is_dynamic(self) -> bool:
        return self.shape is None or bool(self.dynamic_dims)

    @property
    def fixed_shape(self) -> tuple[int, ...] | None:
        """The shape when it is not dynamic (every dim a positive int), else None."""
        if self.shape is None or self.dynamic_dims:
            return None
        return tuple(d for d in self.shape if isinstance(d, int))

    def shape_text(self) -> str:
        if self.shape is None:
            return "unknown rank"
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + "]"

    def to_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape) if self.shape is not None else None,
                "dynamic": self.is_dynamic}


@dataclass
class ModelSummary:
    path: str
    file_size: int
    ir_version: int
    opsets: dict[str, int]
    producer: str
    graph_name: str
    node_count: int
    subgraph_node_count: int
    op_histogram: dict[str, int]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    parameter_count: int
    parameter_bytes: int
    external_data_files: list[str] = field(default_factory=list)

    @property
    def dynamic_inputs(self) -> list[str]:
        return [t.name for t in self.inputs if t.is_dynamic]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["inputs"] = [t.to_dict() for t in self.inputs]
        data["outputs"] = [t.to_dict() for t in self.outputs]
        data["dynamic_inputs"] = self.dynamic_inputs
        return data

    def describe(self) -> str:
        lines = [self.path,
                 f"  IR {self.ir_version}, opsets {', '.join(f'{d} {v}' for d, v in self.opsets.items())}, "
                 f"producer {self.producer or '-'}",
                 f"  {self.node_count} nodes ({self.subgraph_node_count} nested), "
                 f"{self.parameter_count:,} parameters ({self.parameter_bytes / 1e6:.1f} MB)"]
        for label, tensors in (("input", self.inputs), ("output", self.outputs)):
            lines += [f"  {label:6} {t.name}: {t.dtype} {t.shape_text()}{'  (dynamic)' if t.is_dynamic else ''}"
                      for t in tensors]
        lines.append(f"  ops: {', '.join(f'{op}×{n}' for op, n in self.op_histogram.items())}")
        return "\n".join(lines)


def tensor_info(value_info: ValueInfoProto) -> TensorInfo:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        shape = None
    else:
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                      for d in tensor_type.shape.dim)
    return TensorInfo(value_info.name, element_type_name(tensor_type.elem_type), shape)


def iter_nodes(graph: GraphProto, parent: str = ""):
    """Yield ``(node, parent_name)`` for every node, descending into If/Loop/Scan bodies."""
    for node in graph.node:
        yield node, parent
        for attr in node.attribute:
            subgraphs = list(attr.graphs) + ([attr.g] if attr.HasField("g") else [])
            for sub in subgraphs:
                yield from iter_nodes(sub, parent or node.name)


def node_label(node: NodeProto) -> str:
    """A node's name, or for an unnamed node its op and outputs: what messages call it."""
    return node.name or f"{node.op_type}({', '.join(node.output)})"


def node_attribute(node: NodeProto, name: str, default=None):
    """The value of a node's attribute ``name`` (``default`` when the node does not set it)."""
    for attr in node.attribute:
        if attr.name == name:
            return attribute_value(attr)
    return default


# The field that holds an attribute's value, by its type (repeated fields for the plural types).
_ATTRIBUTE_FIELDS = {
    AttributeProto.FLOAT: "f", AttributeProto.INT: "i", AttributeProto.STRING: "s", AttributeProto.TENSOR: "t",
    AttributeProto.GRAPH: "g", AttributeProto.SPARSE_TENSOR: "sparse_tensor", AttributeProto.TYPE_PROTO: "tp",
    AttributeProto.FLOATS: "floats", AttributeProto.INTS: "ints", AttributeProto.STRINGS: "strings",
    AttributeProto.TENSORS: "tensors", AttributeProto.GRAPHS: "graphs", AttributeProto.SPARSE_TENSORS: "sparse_tensors",
    AttributeProto.TYPE_PROTOS: "type_protos",
}
_PLURAL_ATTRIBUTES = {AttributeProto.FLOATS, AttributeProto.INTS, AttributeProto.STRINGS, AttributeProto.TENSORS,
                      AttributeProto.GRAPHS, AttributeProto.SPARSE_TENSORS, AttributeProto.TYPE_PROTOS}


def attribute_value(attr: AttributeProto):
    """An attribute's value as ``onnx.helper.get_attribute_value`` gives it (lists for the plural types)."""
    field_name = _ATTRIBUTE_FIELDS.get(attr.type)
    if field_name is None:
        raise ValueError(f"Attribute '{attr.name}' has no value of a known type ({attr.type}).")
    value = getattr(attr, field_name)
    return list(value) if attr.type in _PLURAL_ATTRIBUTES else value


def input_info(model: LoadedModel, name: str) -> TensorInfo:
    """The graph input ``name``, or a clear error naming the inputs there are."""
    for tensor in model.summary().inputs:
        if tensor.name == name:
            return tensor
    raise WorkbenchError(f"The model has no input named '{name}'.",
                         f"Its inputs are: {', '.join(t.name for t in model.summary().inputs) or 'none'}.")


def graph_inputs(graph: GraphProto) -> list[ValueInfoProto]:
    """Real inputs: models from IR < 4 also list their initializers as inputs."""
    initializer_names = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in initializer_names]


class LoadedModel:
    """An ONNX model read from disk (or made in memory by a fix). Treat ``proto`` as read-only.

    ``proto`` may reference weights on disk (external data, or the model file itself); they resolve
    against ``weights_dir`` (the model's folder, or for a fix's result the folder of the model it
    was made from).
    """

    def __init__(self, proto: ModelProto, serialized: bytes, path: Path | None = None,
                 weights_dir: Path | None = None):
        self.proto = proto
        self.serialized = serialized
        self.path = path
        self.weights_dir = weights_dir or (path.parent if path else None)
        self._summary: ModelSummary | None = None
        self._weight_locations: list[str] | None = None

    @property
    def name(self) -> str:
        return self.path.name if self.path else (self.proto.graph.name or "model")

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None

    @property
    def file_size(self) -> int:
        """The model file's size on disk (its weights included), or the in-memory size of a fix's result."""
        return self.path.stat().st_size if self.path and self.path.is_file() else len(self.serialized)

    @property
    def references_weights(self) -> bool:
        """Whether some weights are on disk (external data or the model file) rather than in ``proto``."""
        return bool(self._locations())

    @property
    def parser_path(self) -> str | None:
        """What the TensorRT parser needs to find weights on disk (a path in their folder)."""
        if not self.references_weights or self.weights_dir is None:
            return None
        return str(self.path if self.path else self.weights_dir / f"{self.name}.onnx")

    def _locations(self) -> list[str]:
        if self._weight_locations is None:  # proto is read-only, so one walk over its tensors is enough
            self._weight_locations = sorted({external_data_info(t).location for t in all_tensors(self.proto)
                                             if uses_external_data(t)})
        return self._weight_locations

    def external_data_files(self) -> list[str]:
        """Data files beside the model that hold its weights (not the model file itself)."""
        own = self.path.name if self.path else None
        return [location for location in self._locations() if location != own]

    def full_proto(self) -> ModelProto:
        """A copy with all weights read in, for transforms that need their values."""
        copy = ModelProto()
        copy.CopyFrom(self.proto)
        if self.references_weights and self.weights_dir is not None:
            from onnx import external_data_helper

            external_data_helper.load_external_data_for_model(copy, str(self.weights_dir))
        return copy

    def summary(self) -> ModelSummary:
        if self._summary is None:
            self._summary = summarize(self)
        return self._summary

    @classmethod
    def from_proto(cls, proto: ModelProto, path: Path | None = None,
                   weights_dir: Path | None = None) -> "LoadedModel":
        """Wrap an in-memory model, e.g. the result of a fix (its weights inline or still on disk)."""
        try:
            serialized = proto.SerializeToString()
        except ValueError as exc:  # protobuf's 2 GB limit
            raise WorkbenchError("The model is larger than 2 GB and cannot be held in one piece.",
                                 "Save it with external data and open the saved file.", str(exc)) from exc
        return cls(proto, serialized, path, weights_dir)


def _describe_foreign_file(data: bytes) -> str | None:
    for signature, description in _KNOWN_SIGNATURES:
        if data.startswith(signature):
            return description
    head = data[:512]
    if head[:1] == bytes([_ONNX_FIRST_BYTE]):
        # An ONNX model starts with its IR version's field tag (0x08), which no text file does; its first 512
        # bytes can still be mostly printable (producer name, then initializer names: Optimum's Whisper decoder).
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and sum(ch.isprintable() or ch.isspace() for ch in text) / len(text) > 0.95:
        return "a text file"
    return None


def _corrupt(path: Path, head: bytes, exc: Exception) -> WorkbenchError:
    if head[:1] == bytes([_ONNX_FIRST_BYTE]):
        return WorkbenchError(f"{path.name} is truncated or corrupt: its protobuf data cannot be decoded.",
                              "The file may have been cut short by an interrupted copy or download; "
                              "copy or export it again.", str(exc))
    return WorkbenchError(f"{path.name} is not an ONNX model: its contents are not an ONNX protobuf.",
                          "Open a .onnx file exported from your framework.", str(exc))


def _decode(path: Path, progress: ProgressFn) -> tuple[ModelProto, bytes]:
    with open(path, "rb") as stream:
        head = stream.read(512)
    foreign = _describe_foreign_file(head)
    if foreign:
        raise WorkbenchError(f"{path.name} is not an ONNX model: it looks like {foreign}.",
                             "Open a .onnx file exported from your framework.")
    try:
        serialized = read_weight_free(path, progress=progress)
        proto = parse_model_in_chunks(serialized)
    except DecodeError as exc:
        raise _corrupt(path, head, exc) from exc
    if proto.ir_version == 0 or not proto.HasField("graph"):
        raise WorkbenchError(f"{path.name} is not an ONNX model: it has no IR version or no graph.",
                             "Open a .onnx file exported from your framework.")
    damaged = first_undecodable_text(proto)
    if damaged:
        raise WorkbenchError(f"{path.name} is damaged: {damaged} is not valid UTF-8 text.",
                             "ONNX names are UTF-8; bytes like these come from a damaged copy or download. Copy or "
                             "export the model again.")
    return proto, serialized


def first_undecodable_text(message, where: str = "the model") -> str:
    """Where the first text field that is not valid UTF-8 sits ("" when every one is). ONNX's proto2 strings are
    not validated when parsed: such a field comes back as ``bytes``, which every name lookup and TensorRT's
    logger (a UnicodeDecodeError on its native thread aborts the process) would meet later."""
    for field_descriptor, value in message.ListFields():
        values = value if _repeated(field_descriptor) else [value]
        if field_descriptor.type == field_descriptor.TYPE_STRING:
            for index, text in enumerate(values):
                if not isinstance(text, str):
                    number = f" #{index}" if len(values) > 1 else ""
                    return f"the {field_descriptor.name}{number} of {where} ({bytes(text)[:60]!r})"
        elif field_descriptor.type == field_descriptor.TYPE_MESSAGE:
            if isinstance(message, TensorProto):
                continue  # a tensor's nested messages hold data locations, checked as text by the loader
            for index, item in enumerate(values):
                label = getattr(item, "name", "") if isinstance(getattr(item, "name", ""), str) else ""
                found = first_undecodable_text(item, f"{field_descriptor.name} #{index}" +
                                               (f" '{label}'" if label else ""))
                if found:
                    return found
    return ""


def _repeated(field_descriptor) -> bool:
    repeated = getattr(field_descriptor, "is_repeated", None)  # protobuf ≥ 5.28; `label` is deprecated there
    return bool(repeated) if repeated is not None else field_descriptor.label == field_descriptor.LABEL_REPEATED


def _check_external_data(proto: ModelProto, path: Path) -> None:
    base = path.parent.resolve()
    for tensor in all_tensors(proto):
        if not uses_external_data(tensor):
            continue
        info = external_data_info(tensor)
        location = Path(info.location)
        target = (base / location).resolve()
        if location.is_absolute() or not target.is_relative_to(base):
            raise WorkbenchError(
                f"Refused: the weights of tensor '{tensor.name}' point outside the model's folder ({info.location}).",
                "External data must sit in the model's folder or below it. Move the data file next to the "
                "model and fix its location, or re-export the model.")
        if not target.is_file():
            raise WorkbenchError(
                f"The external data file '{info.location}' that holds tensor '{tensor.name}' is missing.",
                f"Put '{info.location}' next to {path.name} (it must be copied together with the model).")
        if info.length:
            needed = (info.offset or 0) + info.length
            if target.stat().st_size < needed:
                raise WorkbenchError(
                    f"The external data file '{info.location}' is shorter than the model expects "
                    f"(tensor '{tensor.name}' needs bytes up to {needed}, the file has {target.stat().st_size}).",
                    "The data file is probably truncated; copy or export it again.")


def load_model(path: str | os.PathLike, progress: ProgressFn = no_progress) -> LoadedModel:
    """Read and validate an ONNX model, without its weights (see the module's docstring). Never modifies the file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WorkbenchError(f"File not found: {path}", "Check the path; the file may have been moved or deleted.")
    if path.is_dir():
        raise WorkbenchError(f"{path} is a folder, not an ONNX file.", "Choose the .onnx file inside it.")
    try:
        if path.stat().st_size == 0:
            raise WorkbenchError(f"{path.name} is empty (0 bytes).",
                                 "The export or copy probably failed; export again.")
        proto, serialized = _decode(path, progress)
    except OSError as exc:
        raise WorkbenchError(f"Cannot read {path}: {exc.strerror}.", "Check the file's permissions.", str(exc)) from exc
    if not proto.graph.node:
        raise WorkbenchError(f"{path.name} has an empty graph: it contains no nodes.",
                             "Check the export: the model may have been traced with no operations.")
    _check_external_data(proto, path)
    return LoadedModel(proto, serialized, path.resolve())


def read_in_weights(tensor: TensorProto, weights_dir: Path) -> None:
    """Read the bytes of a tensor kept on disk into it, from ``weights_dir`` (the model's folder). onnx's own
    readers resolve against the working directory unless given the folder, and before onnx 1.17 they leave the
    reference beside the bytes, which a second read then follows."""
    from onnx import external_data_helper

    external_data_helper.load_external_data_for_tensor(tensor, str(weights_dir))
    tensor.data_location = TensorProto.DEFAULT
    del tensor.external_data[:]


def _initializer_bytes(tensor: TensorProto, count: int) -> int:
    # From dims and type rather than len(raw_data): reading raw_data copies the whole weight.
    if uses_external_data(tensor):
        length = external_data_info(tensor).length
        if length:
            return length
    return count * element_size(tensor.data_type)


def summarize(model: LoadedModel) -> ModelSummary:
    proto = model.proto
    graph = proto.graph
    histogram: Counter[str] = Counter()
    nested = 0
    weights = list(graph.initializer)
    for node, parent in iter_nodes(graph):
        standard = not node.domain or node.domain == "ai.onnx"
        histogram[node.op_type if standard else f"{node.domain}::{node.op_type}"] += 1
        nested += bool(parent)
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            weights.append(node.attribute[0].t)  # paddle2onnx writes every weight as a Constant node
    parameter_count = 0
    parameter_bytes = 0
    for tensor in weights:
        count = math.prod(tensor.dims)
        parameter_count += count
        parameter_bytes += _initializer_bytes(tensor, count)
    return ModelSummary(
        path=str(model.path) if model.path else "",
        file_size=model.file_size,
        ir_version=proto.ir_version,
        opsets={(o.domain or "ai.onnx"): o.version for o in proto.opset_import},
        producer=" ".join(filter(None, [proto.producer_name, proto.producer_version])),
        graph_name=graph.name,
        node_count=len(graph.node),
        subgraph_node_count=nested,
        op_histogram=dict(histogram.most_common()),
        inputs=[tensor_info(v) for v in graph_inputs(graph)],
        outputs=[tensor_info(v) for v in graph.output],
        parameter_count=parameter_count,
        parameter_bytes=parameter_bytes,
        external_data_files=model.external_data_files(),
    )


# Stored inline below this size when a model is saved with external data (what onnx.save_model does too).
_INLINE_BELOW = 1024
# Past this a model is saved with its weights in a data file: protobuf cannot hold 2 GB in one message.
_EXTERNAL_DATA_ABOVE = 1_500_000_000
_COPY_CHUNK = 16 << 20


def _on_disk(proto: ModelProto) -> list[TensorProto]:
    return [t for t in all_tensors(proto) if uses_external_data(t)]


def _stream_weights(proto: ModelProto, weights_dir: Path | None, data_file: Path, progress: ProgressFn) -> None:
    """Move every weight of ``proto`` into ``data_file``: bytes on disk are copied a chunk at a time,
    inline bytes written and cleared, so at most one tensor is in memory at once."""
    tensors = [t for t in all_tensors(proto)
               if uses_external_data(t)
               or (t.HasField("raw_data") and len(t.raw_data) >= _INLINE_BELOW)]
    with open(data_file, "wb") as out:
        for index, tensor in enumerate(tensors):
            offset = out.tell()
            if uses_external_data(tensor):
                assert weights_dir is not None  # save_model refuses weights on disk without their folder
                info = external_data_info(tensor)
                with open(weights_dir / info.location, "rb") as source:
                    source.seek(info.offset or 0)
                    remaining = info.length if info.length else None
                    while remaining is None or remaining > 0:
                        chunk = source.read(_COPY_CHUNK if remaining is None else min(_COPY_CHUNK, remaining))
                        if not chunk:
                            break
                        out.write(chunk)
                        if remaining is not None:
                            remaining -= len(chunk)
            else:
                out.write(tensor.raw_data)
                tensor.ClearField("raw_data")
            del tensor.external_data[:]
            for key, value in (("location", data_file.name), ("offset", offset), ("length", out.tell() - offset)):
                tensor.external_data.add(key=key, value=str(value))
            tensor.data_location = TensorProto.EXTERNAL
            progress("Writing the weights", (index + 1) / len(tensors))


def save_model(proto: ModelProto, destination: str | os.PathLike, *, protect: Path | None = None,
               external_data: bool | None = None, weights_dir: Path | None = None,
               progress: ProgressFn = no_progress) -> Path:
    """Write ``proto`` to ``destination`` atomically (staged in a temporary folder beside it, then renamed).

    ``protect`` is the user's original model: writing over it is refused here, so the caller must
    have asked the user and pass ``protect=None`` explicitly. Weights ``proto`` keeps on disk are
    read from ``weights_dir`` (``LoadedModel.weights_dir``) and copied, never moved: the original's
    files are only read. ``external_data`` (default: when the original kept its weights in a data
    file, or the model is over 1.5 GB) stores the weights in ``<name>.data`` next to the file. The file declares
    the IR version the oldest supported onnxruntime reads when the model needs nothing newer (``ir_versions``).
    """
    destination = Path(destination).expanduser().resolve()
    if protect is not None and destination == Path(protect).resolve():
        raise WorkbenchError("Refused to overwrite the original model.",
                             "Choose another file name, or confirm overwriting explicitly.")
    if not destination.parent.is_dir():
        raise WorkbenchError(f"The folder {destination.parent} does not exist.", "Choose an existing folder.")
    on_disk = _on_disk(proto)
    if on_disk and weights_dir is None:
        raise WorkbenchError("The model's weights are on disk but their folder is unknown.",
                             "This is a bug in the workbench; please report it.")
    locations = {external_data_info(t).location for t in on_disk}
    data_name = destination.name + ".data"
    if weights_dir is not None and any((weights_dir / location).resolve() == destination.parent / data_name
                                       for location in locations):
        raise WorkbenchError(f"Refused: {data_name} holds the weights this model is read from.",
                             "Save under another name: the original's data file is never overwritten.")
    if external_data is None:
        weight_bytes = sum(external_data_info(t).length or 0 for t in on_disk)
        external_data = (proto.ByteSize() + weight_bytes > _EXTERNAL_DATA_ABOVE
                         or any(not location.endswith(".onnx") for location in locations))
    staged_proto = ModelProto()
    staged_proto.CopyFrom(proto)  # the caller's proto stays as it is
    from workbench.core.model.ir_versions import OLDEST_ONNXRUNTIME_MAX_IR, ir_version_at_most  # it imports us

    # onnx stamps its own newest IR version on what it makes: write one every supported onnxruntime reads.
    staged_proto.ir_version = ir_version_at_most(staged_proto, OLDEST_ONNXRUNTIME_MAX_IR)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".trt-workbench-") as staging:
        staged = Path(staging) / destination.name
        try:
            if external_data:
                _stream_weights(staged_proto, weights_dir, Path(staging) / data_name, progress)
            elif on_disk:
                from onnx import external_data_helper

                external_data_helper.load_external_data_for_model(staged_proto, str(weights_dir))
            with open(staged, "wb") as stream:
                stream.write(staged_proto.SerializeToString())
        except (OSError, ValueError) as exc:
            raise WorkbenchError(f"Could not write {destination.name}: {exc}", "Check free disk space and permissions.",
                                 str(exc)) from exc
        if external_data:
            os.replace(Path(staging) / data_name, destination.parent / data_name)
        os.replace(staged, destination)
    return destination
