"""Decode a large serialized ONNX model a few megabytes at a time.

One ``ParseFromString`` of a 100 MB model holds Python's GIL for ~100 ms, which freezes a GUI
thread that shares the process. Protobuf merges repeated occurrences of an embedded message field
(repeated fields are appended, singular fields overwritten), so the model can be fed to
``MergeFromString`` as consecutive slices of its top-level fields, with the graph field split into
slices of its own fields: the result equals a single parse, and the GIL is free between slices.
"""

from __future__ import annotations

import time

from google.protobuf.message import DecodeError

from workbench.core.model.protos import ModelProto

_GRAPH_FIELD = 7  # ModelProto.graph
_LENGTH_DELIMITED = 2


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("Truncated varint.")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def iter_fields(buf: memoryview, pos: int, end: int):
    """Yield ``(field number, wire type, field start, value start, field end)`` for each field."""
    while pos < end:
        start = pos
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        value_start = pos
        if wire == 0:
            _, pos = read_varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == _LENGTH_DELIMITED:
            length, value_start = read_varint(buf, pos)
            pos = value_start + length
        elif wire == 5:
            pos += 4
        else:
            raise DecodeError(f"Unsupported wire type {wire}.")
        if pos > end:
            raise DecodeError("Truncated message.")
        yield number, wire, start, value_start, pos


def _slices(buf: memoryview, chunk_bytes: int):
    """Byte strings that, merged in order into an empty ModelProto, rebuild the whole model."""
    for number, wire, start, value_start, end in iter_fields(buf, 0, len(buf)):
        if number != _GRAPH_FIELD or wire != _LENGTH_DELIMITED or end - start <= chunk_bytes:
            yield buf[start:end]
            continue
        graph_key = encode_varint(_GRAPH_FIELD << 3 | _LENGTH_DELIMITED)
        piece_start = piece_end = value_start
        for _n, _w, _s, _v, field_end in iter_fields(buf, value_start, end):
            if field_end - piece_start > chunk_bytes and piece_end > piece_start:
                yield graph_key + encode_varint(piece_end - piece_start) + buf[piece_start:piece_end]
                piece_start = piece_end
            piece_end = field_end
        if piece_end > piece_start:
            yield graph_key + encode_varint(piece_end - piece_start) + buf[piece_start:piece_end]


def parse_model_in_chunks(data: bytes, chunk_bytes: int = 1 << 20) -> ModelProto:
    """The same ``ModelProto`` as ``ParseFromString(data)``, decoded slice by slice.

    Raises ``google.protobuf.message.DecodeError`` on malformed data.
    """
    proto = ModelProto()
    pending: list = []
    pending_size = 0
    for piece in _slices(memoryview(data), chunk_bytes):
        pending.append(piece)
        pending_size += len(piece)
        if pending_size >= chunk_bytes:
            proto.MergeFromString(b"".join(pending))
            pending, pending_size = [], 0
            time.sleep(0)  # let a waiting GUI thread take the GIL between slices
    if pending:
        proto.MergeFromString(b"".join(pending))
    return proto
