"""Models for the comparison tests: a chain whose nodes can be told apart, and perturbed copies."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from tests.onnx_factory import make_model, tensor


def chain_model(length: int = 8, shape=(2, 4, 6, 6)) -> onnx.ModelProto:
    """x → (Mul by a constant → Tanh) × length → y; node i is named "mul_i" / "tanh_i"."""
    rng = np.random.default_rng(7)
    nodes, inits, current = [], [], "x"
    for i in range(length):
        scale = numpy_helper.from_array(rng.uniform(0.5, 1.5, (shape[1], 1, 1)).astype(np.float32), f"scale_{i}")
        inits.append(scale)
        nodes.append(helper.make_node("Mul", [current, f"scale_{i}"], [f"m{i}"], name=f"mul_{i}"))
        nodes.append(helper.make_node("Tanh", [f"m{i}"], [f"t{i}"], name=f"tanh_{i}"))
        current = f"t{i}"
    nodes.append(helper.make_node("Identity", [current], ["y"], name="out"))
    return make_model(nodes, [tensor("x", list(shape))], [tensor("y", list(shape))], inits, name="chain")


def perturbed(model: onnx.ModelProto, initializer: str, factor: float = 1.01) -> onnx.ModelProto:
    """A copy with one initializer scaled: the node that reads it is the planted divergence."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for i, init in enumerate(copy.graph.initializer):
        if init.name == initializer:
            copy.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * factor, init.name))
    return copy


def classifier_model(classes: int = 10) -> onnx.ModelProto:
    """x [N, 16] → MatMul → logits [N, classes] → Softmax → probs."""
    rng = np.random.default_rng(3)
    weight = numpy_helper.from_array(rng.standard_normal((16, classes)).astype(np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["logits"], name="fc"),
             helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1)]
    outputs = [tensor("logits", ["N", classes]), tensor("probs", ["N", classes])]
    return make_model(nodes, [tensor("x", ["N", 16])], outputs, [weight], name="classifier")


def tiny_output_copy(model: onnx.ModelProto, last_weights: tuple[str, ...], factor: float = 1e-9) -> onnx.ModelProto:
    """A copy whose last layer's initializers are scaled so every output is ~``factor``: far below atol."""
    for name in last_weights:
        model = perturbed(model, name, factor)
    return model
