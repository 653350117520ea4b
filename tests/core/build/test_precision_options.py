"""Precision without surprises on TensorRT 11 and TensorRT-RTX: settings, reproduction commands, build labels.

Version branches run through the backend's own version logic; builds use the real TensorRT-RTX builder.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

from tests.onnx_factory import conv_model, make_model, tensor, weights
from workbench.core.backend import (is_strongly_typed_only, major_version, unavailable_precision_options)
from workbench.core.build.commands import reproduction_commands
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.shapes.profiles import Profile, ShapeRange

ALL_PRECISION_FLAGS = {"fp16", "bf16", "int8", "fp8"}
CHANNELS = 4


def int8_qdq_conv() -> LoadedModel:
    """Activations quantized per tensor, Conv weights per output channel, float bias (what TensorRT parses)."""
    weight = np.random.default_rng(0).integers(-127, 127, (CHANNELS, 3, 3, 3)).astype(np.int8)
    inits = [numpy_helper.from_array(np.float32(0.05), "x_scale"), numpy_helper.from_array(np.int8(0), "x_zero"),
             numpy_helper.from_array(weight, "w_q"),
             numpy_helper.from_array(np.full(CHANNELS, 0.01, np.float32), "w_scale"),
             numpy_helper.from_array(np.zeros(CHANNELS, np.int8), "w_zero"), weights("b", (CHANNELS,))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"], name="quantize_x"),
             helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"], name="dequantize_x"),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], name="dequantize_w", axis=0),
             helper.make_node("Conv", ["x_dq", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1])]
    return LoadedModel.from_proto(make_model(nodes, [tensor("x", [1, 3, 8, 8])],
                                             [tensor("y", [1, CHANNELS, 8, 8])], inits))


def test_tensorrt_11_and_rtx_are_strongly_typed_and_tensorrt_10_is_not():
    assert major_version("11.0.0.14") == 11
    assert is_strongly_typed_only("tensorrt", "11.0.0.14")
    assert not is_strongly_typed_only("tensorrt", "10.13.3.9")
    assert is_strongly_typed_only("tensorrt-rtx", "1.7.1.116")
    with pytest.raises(WorkbenchError, match="Unrecognised TensorRT version"):
        major_version("dev")


def test_tensorrt_11_offers_fp16_by_conversion_and_refuses_removed_flags():
    on_11 = unavailable_precision_options("tensorrt", "11.0.0.14", set())  # 11 has no precision flags left
    assert "precision:fp16" not in on_11  # FP16 goes through conversion
    assert {"precision_by_flag", "precision:int8", "precision:fp8", "precision:bf16"} <= set(on_11)
    assert "Q/DQ" in on_11["precision:int8"] and "TensorRT 11.0.0.14" in on_11["precision_by_flag"]
    assert unavailable_precision_options("tensorrt", "10.13.3.9", ALL_PRECISION_FLAGS) == {}
    assert set(unavailable_precision_options("tensorrt", "10.0.1", {"fp16", "int8"})) == {"precision:bf16",
                                                                                          "precision:fp8"}


def test_a_removed_builder_flag_is_refused_before_the_build(backend):
    # On TensorRT-RTX (strongly typed like TensorRT 11) --fp16 --precision-by-flag reached the child as KeyError.
    problems = BuildSettings(precision="fp16", precision_by_flag=True).problems_with(backend)
    assert problems and "strongly typed" in problems[0]
    assert BuildSettings(precision="fp16").uses_conversion(backend)


def test_compute_capability_current_is_exclusive_of_explicit_targets(backend):
    problems = BuildSettings(compute_capabilities=["CURRENT", "SM86"]).problems_with(backend)
    assert any("CURRENT" in p and "cannot be combined" in p for p in problems)
    current_only = BuildSettings(compute_capabilities=["CURRENT"])
    assert not any("cannot be combined" in p for p in current_only.problems_with(backend))


def test_trtexec_line_numbers_each_profile_before_its_shapes(backend):
    small = Profile({"x": ShapeRange((1, 3, 16, 16), (1, 3, 16, 16), (2, 3, 16, 16))})
    large = Profile({"x": ShapeRange((4, 3, 16, 16), (8, 3, 16, 16), (16, 3, 16, 16))})
    args = reproduction_commands("m.onnx", "m.engine", BuildSettings(), [small, large], backend)["trtexec"].split()
    first, second = args.index("--profile=0"), args.index("--profile=1")
    assert args[first + 1:second] == ["--minShapes=x:1x3x16x16", "--optShapes=x:1x3x16x16", "--maxShapes=x:2x3x16x16"]
    assert args[second + 1:second + 4] == ["--minShapes=x:4x3x16x16", "--optShapes=x:8x3x16x16",
                                           "--maxShapes=x:16x3x16x16"]
    single = reproduction_commands("m.onnx", "m.engine", BuildSettings(), [small], backend)["trtexec"]
    assert "--profile" not in single


def test_converted_fp16_command_is_strongly_typed_only_where_the_backend_needs_telling(backend):
    commands = reproduction_commands("m.onnx", "m.engine", BuildSettings(precision="fp16"), [], backend)
    told = "--stronglyTyped" in commands["trtexec"]
    assert told == (not backend.strongly_typed_only)
    assert "--fp16" not in commands["trtexec"].split()  # the converted model carries the precision
    assert "--save-converted" in commands["note"]


def test_build_summary_names_converted_fp16(backend):
    result = build_engine(LoadedModel.from_proto(conv_model(batch=1)), BuildSettings(precision="fp16"), [],
                          backend=backend)
    assert result.succeeded, result.problems
    assert result.precision_label == "FP16 (converted)"
    assert "Precision: FP16 (converted)" in result.describe()


def test_build_summary_of_a_quantized_model_never_says_fp32(backend):
    result = build_engine(int8_qdq_conv(), BuildSettings(), [], backend=backend)
    assert result.succeeded, result.problems
    assert result.precision_label == "INT8 (Q/DQ)"
    assert "FP32" not in result.describe()
    converted = build_engine(int8_qdq_conv(), BuildSettings(precision="fp16"), [], backend=backend)
    assert converted.succeeded, converted.problems
    assert converted.precision_label == "INT8 (Q/DQ) + FP16 (converted)"
