"""Parity after a fix: onnxruntime on the same seeded inputs, verdict and per-output errors."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from tests.onnx_factory import make_model, tensor
from workbench.core.model.loading import LoadedModel
from workbench.core.compare.parity import BEYOND, CANNOT_JUDGE, EXACT, NOT_CHECKABLE, WITHIN, check_parity


def _scale_model(factor: float, dtype=TensorProto.FLOAT, input_name="x") -> LoadedModel:
    nodes = [helper.make_node("Cast", [input_name], ["xf"], to=TensorProto.FLOAT, name="cast"),
             helper.make_node("Mul", ["xf", "k"], ["y"], name="scale")]
    inits = [numpy_helper.from_array(np.array(factor, np.float32), "k")]
    return LoadedModel.from_proto(make_model(nodes, [tensor(input_name, [2, 8], dtype)], [tensor("y", [2, 8])], inits))


def test_identical_models_are_exact():
    parity = check_parity(_scale_model(2.0), _scale_model(2.0))
    assert parity.verdict == EXACT and parity.outputs[0].max_abs == 0.0
    assert parity.text.startswith("exact")


def test_tiny_change_is_within_tolerance_and_large_change_is_beyond():
    within = check_parity(_scale_model(2.0), _scale_model(2.0 + 1e-6))
    assert within.verdict == WITHIN and 0 < within.outputs[0].max_abs < 1e-5
    beyond = check_parity(_scale_model(2.0), _scale_model(2.5))
    assert beyond.verdict == BEYOND and beyond.outputs[0].max_abs > 0.01
    assert "max abs error" in beyond.text and "'y'" in beyond.text
    assert beyond.to_dict()["outputs"][0]["name"] == "y"


def test_same_seed_same_verdict_and_retyped_inputs_get_the_same_values():
    original, retyped = _scale_model(3.0, TensorProto.UINT8), _scale_model(3.0, TensorProto.FLOAT)
    first, second = check_parity(original, retyped, seed=7), check_parity(original, retyped, seed=7)
    assert first.verdict == second.verdict == EXACT
    assert first.outputs[0].to_dict() == second.outputs[0].to_dict()


def test_plugin_ops_and_new_inputs_are_not_checkable_with_the_reason():
    plugin = make_model([helper.make_node("EfficientNMS_TRT", ["x"], ["y"], name="nms")], [tensor("x", [2, 8])],
                        [tensor("y", [2, 8])])
    parity = check_parity(_scale_model(1.0), LoadedModel.from_proto(plugin))
    assert parity.verdict == NOT_CHECKABLE and "EfficientNMS_TRT" in parity.reason
    assert "onnxruntime" in parity.text
    renamed = check_parity(_scale_model(1.0), _scale_model(1.0, input_name="z"))
    assert renamed.verdict == NOT_CHECKABLE and "new input(s) z" in renamed.reason


def test_a_fix_on_outputs_too_small_for_atol_is_not_within_tolerance():
    tiny = _scale_model(1e-9)
    nudged = check_parity(tiny, _scale_model(1e-9 * (1 + 1e-3)))
    assert nudged.verdict == CANNOT_JUDGE and nudged.outputs[0].within_tolerance
    assert nudged.text.startswith("numerically changed; the tolerance cannot judge whether it matters")
    assert "'y': the largest |value| is" in nudged.reason and "below 10 × atol" in nudged.text
    assert nudged.to_dict()["outputs"][0]["verdict"] == "CANNOT_JUDGE"
    scaled = check_parity(tiny, _scale_model(1.3e-9))  # 30 % off everywhere, yet inside atol
    assert scaled.verdict == BEYOND and "relative error 0.3" in scaled.reason
    assert check_parity(tiny, _scale_model(1e-9)).verdict == EXACT
