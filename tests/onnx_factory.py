"""Small real ONNX models for tests, built with onnx.helper at an IR version onnxruntime accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10
OPSET = 17


def make_model(nodes, inputs, outputs, initializers=(), opset: int = OPSET, name: str = "test",
               ir_version: int = IR_VERSION) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def tensor(name: str, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def weights(name: str, shape, seed: int = 0, scale: float = 0.1):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def conv_model(channels: int = 8, size: int = 16, batch="N", weight_elems: int | None = None) -> onnx.ModelProto:
    """Conv → Relu; ``weight_elems`` adds a large Add bias-free MatMul weight for size tests."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inits = [weights("w", (channels, 3, 3, 3)), weights("b", (channels,), seed=1)]
    return make_model(nodes, [tensor("x", [batch, 3, size, size])], [tensor("y", [batch, channels, size, size])], inits)


def save(model: onnx.ModelProto, path: Path, **kwargs) -> Path:
    onnx.save_model(model, str(path), **kwargs)
    return path


UNKNOWN_DOMAIN = "workbench.test"


def unfoldable_constant_model() -> onnx.ModelProto:
    """y = x + Scale(weights), Scale from a domain onnxruntime does not know: onnx-graphsurgeon's
    constant folding hands that constant subgraph to onnxruntime, which refuses it, and graphsurgeon
    logs "Inference failed …" (the kind of message that used to land on stdout)."""
    nodes = [helper.make_node("Scale", ["weights"], ["scaled"], domain=UNKNOWN_DOMAIN),
             helper.make_node("Add", ["x", "scaled"], ["y"])]
    model = make_model(nodes, [tensor("x", [1, 4])], [tensor("y", [1, 4])], [weights("weights", [1, 4])])
    model.opset_import.append(helper.make_opsetid(UNKNOWN_DOMAIN, 1))
    onnx.checker.check_model(model)
    return model
