"""Generated models for build tests and the build benchmark."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from tests.onnx_factory import make_model, tensor, weights


def deep_cnn(depth: int, channels: int = 32, size: int = 32) -> onnx.ModelProto:
    """Conv→Relu repeated ``depth`` times, dynamic batch "N": build time grows with depth
    (about 3–4 s for depth 300 with TensorRT-RTX on a 2-core CPU)."""
    nodes, inits, previous, in_channels = [], [], "x", 3
    for i in range(depth):
        inits += [weights(f"w{i}", (channels, in_channels, 3, 3), seed=i),
                  weights(f"b{i}", (channels,), seed=i + depth)]
        nodes += [helper.make_node("Conv", [previous, f"w{i}", f"b{i}"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}")]
        previous, in_channels = f"r{i}", channels
    return make_model(nodes, [tensor("x", ["N", 3, size, size])], [tensor(previous, ["N", channels, size, size])],
                      inits, name=f"deep_cnn_{depth}")


def reshape_by_shape_input() -> onnx.ModelProto:
    """``Reshape(x, target_shape)`` with ``target_shape`` an int64[2] graph input: TensorRT makes it a
    shape tensor, so each profile needs its min/opt/max values."""
    return make_model([helper.make_node("Reshape", ["x", "target_shape"], ["y"], name="reshape")],
                      [tensor("x", ["N", 64]), tensor("target_shape", [2], TensorProto.INT64)],
                      [tensor("y", None)], name="reshape_by_shape_input")
