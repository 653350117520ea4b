"""What the graph itself says about the sizes of its inputs: facts read from nodes and weights.

The weights a dim meets directly (a MatMul's K, a Conv's input channels), the recurrent layer a state
input feeds, the network's total stride along an image's axes, a vision transformer's patch size and the
grid its position table was trained at. Each fact comes with the node that states it, so the reason
shown to the user can name it.
"""

from __future__ import annotations

import math
import re

import numpy as np
import onnx

from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.loading import node_attribute as attribute

RECURRENT_OPS = {"GRU": (5,), "RNN": (5,), "LSTM": (5, 6)}
_PASS_THROUGH = {"Slice", "Gather", "Squeeze", "Unsqueeze", "Identity", "Cast", "Split", "Reshape", "Transpose"}
# Normalisation between an image input and its first layer: (x - mean) / std, a cast, a layout change.
_PREPROCESSING = {"Cast", "Sub", "Div", "Mul", "Add", "Transpose", "Identity"}
_MAX_STRIDE = 64
_MIN_PATCH = 4  # a Conv with kernel = stride below this is an ordinary strided conv, not a patch embedding


def consumers(graph: onnx.GraphProto) -> dict[str, list[tuple[onnx.NodeProto, int]]]:
    found: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for position, name in enumerate(node.input):
            if name:
                found.setdefault(name, []).append((node, position))
    return found


def recurrent_state(name: str, consumers, depth: int = 5) -> onnx.NodeProto | None:
    """The GRU/LSTM/RNN whose initial state ``name`` feeds (through slicing and reshaping), if any."""
    frontier, seen = [name], set()
    for _ in range(depth):
        following = []
        for tensor in frontier:
            for node, position in consumers.get(tensor, []):
                if position in RECURRENT_OPS.get(node.op_type, ()):
                    return node
                if node.op_type in _PASS_THROUGH and position == 0 and node.name not in seen:
                    seen.add(node.name)
                    following.extend(node.output)
        frontier = following
    return None


def direct_weight_dim(name: str, axis: int, rank: int, consumers,
                      weight_shapes: dict[str, tuple[int, ...]]) -> tuple[int, str] | None:
    """A size the weights a dim meets directly demand: a MatMul/Gemm's K, a Conv's input channels. Read from the
    weights' shapes (``constant_shapes``): a weight-free model keeps the values on disk."""
    for node, position in consumers.get(name, []):
        shape = weight_shapes.get(node.input[1]) if len(node.input) > 1 else None
        if not shape:
            continue
        if node.op_type == "MatMul" and position == 0 and axis == rank - 1:
            if len(shape) >= 2:
                return int(shape[-2]), f"MatMul '{node.name}' multiplies it by a {list(shape)} weight"
        if node.op_type == "Gemm" and position == 0 and axis == 1 and len(shape) == 2:
            k = shape[1] if attribute(node, "transB", 0) else shape[0]
            return int(k), f"Gemm '{node.name}' has a {list(shape)} weight"
        if node.op_type == "Conv" and position == 0 and axis == 1 and len(shape) >= 2:
            return int(shape[1]) * int(attribute(node, "group", 1)), f"Conv '{node.name}' has a {list(shape)} weight"
    return None


def spatial_strides(graph: onnx.GraphProto, input_name: str, constants: ConstantValues) -> tuple[int, int]:
    """The network's total stride along the two spatial axes of ``input_name`` (how much the deepest
    feature map is smaller), so suggested sizes can be multiples of it. Conv/pooling strides multiply,
    ConvTranspose and Resize/Upsample with constant scales divide, other ops pass the largest on."""
    strides: dict[str, tuple[float, float]] = {input_name: (1.0, 1.0)}
    deepest = (1.0, 1.0)
    for node in graph.node:
        known = [strides[n] for n in node.input if n in strides]
        if not known:
            continue
        current = (max(s[0] for s in known), max(s[1] for s in known))
        if node.op_type in ("Conv", "MaxPool", "AveragePool", "LpPool"):
            step = list(attribute(node, "strides", []) or [1, 1])
            if len(step) == 2:
                current = (current[0] * step[0], current[1] * step[1])
        elif node.op_type == "ConvTranspose":
            step = list(attribute(node, "strides", []) or [1, 1])
            if len(step) == 2:
                current = (current[0] / step[0], current[1] / step[1])
        elif node.op_type in ("Resize", "Upsample"):
            scales_name = node.input[2] if node.op_type == "Resize" and len(node.input) > 2 else \
                node.input[1] if node.op_type == "Upsample" and len(node.input) > 1 else ""
            scales = constants.get(scales_name)
            if scales is not None and scales.size == 4 and np.all(scales > 0):
                current = (current[0] / float(scales[2]), current[1] / float(scales[3]))
        elif node.op_type in ("GlobalAveragePool", "GlobalMaxPool", "Flatten"):
            continue  # past the feature maps: sizes no longer matter
        for output in node.output:
            strides[output] = current
        deepest = (max(deepest[0], current[0]), max(deepest[1], current[1]))
    height, width = (int(min(_MAX_STRIDE, 2 ** round(math.log2(max(s, 1.0))))) for s in deepest)
    return height, width


def constant_shapes(proto: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Shapes of initializers and Constant-node outputs, read without their values (a weight-free model's
    large tensors stay on disk)."""
    shapes = {t.name: tuple(t.dims) for t in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            shapes[node.output[0]] = tuple(node.attribute[0].t.dims)
    return shapes


def first_conv(graph: onnx.GraphProto, input_name: str, consumer_map) -> onnx.NodeProto | None:
    """The Conv an input reaches first, through its normalisation ((x - mean) / std, casts, transposes)."""
    frontier, seen = [input_name], set()
    for _ in range(6):
        following = []
        for tensor in frontier:
            for node, position in consumer_map.get(tensor, []):
                if node.op_type == "Conv" and position == 0:
                    return node
                if node.op_type in _PREPROCESSING and id(node) not in seen:
                    seen.add(id(node))
                    following.extend(node.output)
        frontier = following
    return None


def patch_embedding(graph: onnx.GraphProto, input_name: str, consumer_map) -> tuple[int, int, onnx.NodeProto] | None:
    """(patch height, patch width, conv) when the image's first layer is a vision transformer's patch
    embedding: a Conv whose kernel equals its stride (non-overlapping patches, 14 for DINOv2, 16 for ViT)."""
    conv = first_conv(graph, input_name, consumer_map)
    if conv is None:
        return None
    kernel = list(attribute(conv, "kernel_shape", []) or [])
    strides = list(attribute(conv, "strides", []) or [])
    if len(kernel) == 2 and kernel == strides and min(kernel) >= _MIN_PATCH:
        return int(kernel[0]), int(kernel[1]), conv
    return None


def position_grid(proto: onnx.ModelProto, embed_dim: int) -> tuple[int, str] | None:
    """(grid side, tensor) of a vision transformer's learned position table: a constant [1, N(+1), D] or
    [N(+1), D] with D the patch embedding's width and N a square (the class token adds one row). The
    model was trained at side × patch pixels (37 × 14 = 518 for DINOv2/Depth Anything)."""
    best = None
    for name, shape in constant_shapes(proto).items():
        rows = shape[-2] if len(shape) in (2, 3) and shape[-1] == embed_dim and (len(shape) == 2 or shape[0] == 1) \
            else 0
        for tokens in (rows - 1, rows):  # with or without the class token
            side = math.isqrt(tokens) if tokens >= 4 else 0
            if side and side * side == tokens and (best is None or side > best[0]):
                best = (side, name)
                break
    return best


_POSITION_TABLE = re.compile(r"(position_embeddings?|wpe|embed_positions|pos_embed)", re.IGNORECASE)


def learned_position_table(proto: onnx.ModelProto) -> tuple[int, str] | None:
    """(rows, name) of a transformer's learned position table (BERT's ``position_embeddings``, GPT-2's ``wpe``,
    Whisper's ``embed_positions``) that a Gather reads: its rows bound the sequence the model can take."""
    shapes = constant_shapes(proto)
    gathered = {node.input[0] for node in proto.graph.node if node.op_type == "Gather" and node.input}
    found = [(int(shape[0]), name) for name, shape in shapes.items()
             if len(shape) == 2 and name in gathered and _POSITION_TABLE.search(name)]
    return min(found) if found else None
