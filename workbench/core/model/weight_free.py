"""Read an ONNX file without its weights: big inline weights become references into the file itself.

A model's weights are most of its bytes, and almost nothing the workbench does needs their values:
the summary, the triage, shape work and structural fixes read only the graph, and TensorRT's parser
and onnxruntime read external data from disk themselves. So the file is scanned at the protobuf
wire level (an mmap: the weight bytes are never copied) and each initializer whose ``raw_data``
is at least ``REFERENCE_WEIGHTS_FROM`` bytes is rewritten as an ONNX external-data tensor whose
location is the model file itself, with the payload's offset and length. The result is a valid ONNX
model of a few kilobytes to megabytes that the TensorRT parser (given the model's path), onnxruntime
(given the folder) and ``onnx.external_data_helper`` resolve exactly like a ``.data`` file.

Left inline on purpose: tensors below the threshold (shape constants, norm scales: detectors and
``ConstantValues`` read them), tensors in ``float_data``/``int64_data`` (rare in large exports),
initializers of If/Loop bodies and Constant-node tensors (their offsets would need the nested scan
for little gain: exporters put the big weights in the main graph's initializers).
"""

from __future__ import annotations

import mmap
import time
from pathlib import Path

from google.protobuf.message import DecodeError

from workbench.core.model.chunked_parse import encode_varint, iter_fields
from workbench.core.progress import ProgressFn, no_progress

# Smaller tensors stay in the proto: the graph tools read their values (Reshape targets, Resize scales…).
REFERENCE_WEIGHTS_FROM = 16 * 1024

_LENGTH_DELIMITED = 2
_VARINT = 0
_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_TENSOR_RAW_DATA = 9
_TENSOR_EXTERNAL_DATA = 13
_TENSOR_DATA_LOCATION = 14
_ENTRY_KEY, _ENTRY_VALUE = 1, 2
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# How often the scan reports progress and lets a waiting GUI thread take the GIL.
_PROGRESS_STEP_BYTES = 64 << 20


def _key(number: int, wire: int) -> bytes:
    return encode_varint(number << 3 | wire)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, _LENGTH_DELIMITED) + encode_varint(len(payload)) + payload


def _external_reference(location: str, offset: int, length: int) -> bytes:
    entries = b"".join(
        _length_delimited(_TENSOR_EXTERNAL_DATA,
                          _length_delimited(_ENTRY_KEY, key.encode()) + _length_delimited(_ENTRY_VALUE, value.encode()))
        for key, value in (("location", location), ("offset", str(offset)), ("length", str(length))))
    return entries + _key(_TENSOR_DATA_LOCATION, _VARINT) + encode_varint(_EXTERNAL)


def _weight_free_tensor(buf: memoryview, start: int, end: int, location: str, threshold: int) -> bytes | None:
    """The tensor's bytes with its raw data replaced by a reference into the file, or None to keep it."""
    raw = None
    for number, wire, field_start, value_start, field_end in iter_fields(buf, start, end):
        if number == _TENSOR_DATA_LOCATION or number == _TENSOR_EXTERNAL_DATA:
            return None  # already external
        if number == _TENSOR_RAW_DATA and wire == _LENGTH_DELIMITED:
            raw = (field_start, value_start, field_end)
    if raw is None or raw[2] - raw[1] < threshold:
        return None
    field_start, value_start, field_end = raw
    return (bytes(buf[start:field_start]) + bytes(buf[field_end:end])
            + _external_reference(location, value_start, field_end - value_start))


def _weight_free_graph(buf: memoryview, start: int, end: int, location: str, threshold: int,
                       progress: ProgressFn, total: int) -> bytes:
    pieces = []
    run_start = start  # fields are copied in contiguous runs, not one by one
    reported = start
    for number, wire, field_start, value_start, field_end in iter_fields(buf, start, end):
        if number != _GRAPH_INITIALIZER or wire != _LENGTH_DELIMITED:
            continue
        tensor = _weight_free_tensor(buf, value_start, field_end, location, threshold)
        if tensor is None:
            continue
        pieces.append(bytes(buf[run_start:field_start]))
        pieces.append(_length_delimited(_GRAPH_INITIALIZER, tensor))
        run_start = field_end
        if field_end - reported >= _PROGRESS_STEP_BYTES:
            reported = field_end
            progress("Reading the model", field_end / total)
            time.sleep(0)
    pieces.append(bytes(buf[run_start:end]))
    return b"".join(pieces)


def read_weight_free(path: Path, threshold: int = REFERENCE_WEIGHTS_FROM,
                     progress: ProgressFn = no_progress) -> bytes:
    """The serialized model at ``path`` with its big inline weights replaced by references into ``path``.

    Raises ``DecodeError`` when the file is not a well-formed protobuf message.
    """
    with open(path, "rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        buf = memoryview(mapped)
        try:
            total = len(buf)
            pieces = []
            for number, wire, field_start, value_start, field_end in iter_fields(buf, 0, total):
                if number == _MODEL_GRAPH and wire == _LENGTH_DELIMITED:
                    graph = _weight_free_graph(buf, value_start, field_end, path.name, threshold, progress, total)
                    pieces.append(_length_delimited(_MODEL_GRAPH, graph))
                else:
                    pieces.append(bytes(buf[field_start:field_end]))
            progress("Reading the model", 1.0)
            return b"".join(pieces)
        except IndexError as exc:  # a length that runs past the end of the file
            raise DecodeError(f"Truncated message: {exc}") from exc
        finally:
            buf.release()

