"""FP16 conversion with a keep-in-FP32 set, judged against the FP32 model under real onnxruntime."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import run_cli
from tests.onnx_factory import make_model, save, tensor
from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.precision.conversion import (FP16_ATOL, FP16_RTOL, KeepSet, check_accuracy, convert_model,
                                                 convert_with_decisions, default_keep_lines)
from workbench.core.precision.converter import DEFAULT_KEEP_RULES, Decision
from workbench.core.shapes.suggest import suggested_feeds

FEATURES = 64
# Large projection weights: activations reach ~1e3, so their sum of squares (~1e7) overflows float16 (max 65504).
PROJECTION_SCALE = 30.0
# The sum of squares stays above float16's range until the square root: all three stay FP32.
OVERFLOWING_NODES = ["square", "sum_of_squares", "norm"]


def l2_normalize_model() -> LoadedModel:
    """y = h / sqrt(sum(h*h)), h = x @ W: a hand-written L2 normalization over large activations."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((FEATURES, FEATURES)) * PROJECTION_SCALE)
                                     .astype(np.float32), "w"),
             numpy_helper.from_array(np.array([1], np.int64), "axis")]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="project"),
             helper.make_node("Mul", ["h", "h"], ["h2"], name="square"),
             helper.make_node("ReduceSum", ["h2", "axis"], ["s"], name="sum_of_squares", keepdims=1),
             helper.make_node("Sqrt", ["s"], ["norm"], name="norm"),
             helper.make_node("Div", ["h", "norm"], ["y"], name="normalize")]
    return LoadedModel.from_proto(make_model(nodes, [tensor("x", [1, FEATURES])], [tensor("y", [1, FEATURES])], inits))


def _check(model, converted):
    return check_accuracy(model, converted, suggested_feeds(model), Tolerances(FP16_ATOL, FP16_RTOL))


def test_fp16_overflow_fails_and_keeping_the_nodes_passes():
    model = l2_normalize_model()
    converted = convert_model(model, default_rules=False)
    assert {i.data_type for i in converted.proto.graph.initializer} == {TensorProto.FLOAT16, TensorProto.INT64}
    failing = _check(model, converted)
    assert not failing.passed
    assert {"square", "sum_of_squares"} <= set(failing.overflows)
    kept = _check(model, convert_model(model, keep=KeepSet.resolve(model, OVERFLOWING_NODES), default_rules=False))
    [output] = kept.outputs
    assert kept.passed and output.name == "y" and output.passed, (kept.overflows, output.reason)


def test_default_keep_rules_keep_the_reduction_and_the_square_root_after_it():
    """ReduceSum is a default keep rule; the Sqrt reads only its FP32 output, so it stays FP32 too (no Cast for
    nothing); the Mul before it still overflows: that is the bisect's job, not a default rule's."""
    model = l2_normalize_model()
    converted, conversion = convert_with_decisions(model)
    assert conversion.decisions["sum_of_squares"] is Decision.KEPT_BY_DEFAULT_RULE
    assert conversion.decisions["norm"] is Decision.FOLLOWS_KEPT
    assert conversion.decisions["square"].converted and conversion.decisions["project"].converted
    assert set(_check(model, converted).overflows) == {"square"}
    assert default_keep_lines(model) == [f"ReduceSum: {DEFAULT_KEEP_RULES['ReduceSum']}"]


def test_keep_set_takes_op_types_and_refuses_unknown_names():
    model = l2_normalize_model()
    keep = KeepSet.resolve(model, ["Mul", "sum_of_squares", "Sqrt"])
    assert (keep.nodes, keep.op_types) == (["sum_of_squares"], ["Mul", "Sqrt"])
    assert _check(model, convert_model(model, keep=keep)).passed
    with pytest.raises(WorkbenchError, match="neither a node name nor an op type"):
        KeepSet.resolve(model, ["no_such_node"])


def test_graph_io_stays_float32_unless_converted_too():
    model = l2_normalize_model()
    kept_io = convert_model(model)
    assert kept_io.proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    converted_io = convert_model(model, keep_io_types=False)
    assert converted_io.proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT16
    with pytest.raises(WorkbenchError, match="not available"):
        convert_model(model, to="int4")


def test_cli_convert_exit_codes_and_json(tmp_path):
    source = save(l2_normalize_model().proto, tmp_path / "l2.onnx")
    failing = run_cli("convert", source, "--to", "fp16", "-o", tmp_path / "fp16.onnx", "--json")
    assert failing.returncode == 1, failing.stderr
    reply = json.loads(failing.stdout)
    assert reply["within_tolerance"] is False and (tmp_path / "fp16.onnx").is_file()
    assert reply["tolerances"]["reason"] and set(reply["overflows"]) == {"square"}
    assert reply["default_keep_rules"] == [f"ReduceSum: {DEFAULT_KEEP_RULES['ReduceSum']}"]
    all_converted = run_cli("convert", source, "--no-default-keep", "-o", tmp_path / "all.onnx", "--json")
    assert all_converted.returncode == 1 and {"square", "sum_of_squares"} <= set(
        json.loads(all_converted.stdout)["overflows"])
    passing = run_cli("convert", source, "--keep-fp32", *OVERFLOWING_NODES, "-o", tmp_path / "kept.onnx", "--json")
    assert passing.returncode == 0, passing.stderr
    assert json.loads(passing.stdout)["keep_fp32"] == OVERFLOWING_NODES
    assert load_model(tmp_path / "kept.onnx").proto.graph.node
    refused = run_cli("convert", source, "--keep-fp32", "nope", "-o", tmp_path / "x.onnx")
    assert refused.returncode == 2 and not (tmp_path / "x.onnx").exists()


def test_fp16_conversion_of_a_static_ultralytics_export_loads_in_onnxruntime(tmp_path):
    """Ultralytics' export lists some tensors twice in value_info; the converted model must still be valid."""
    import onnx
    import onnxruntime as ort

    from tests.conftest import ROOT
    from workbench.core.model.loading import load_model
    from workbench.core.precision.conversion import convert_model

    converted = convert_model(load_model(ROOT / "tests" / "corpus" / "yolov8_static_ultralytics.onnx"), "fp16")
    onnx.checker.check_model(converted.proto, full_check=True)
    session = ort.InferenceSession(converted.proto.SerializeToString(), providers=["CPUExecutionProvider"])
    output = session.run(None, {"images": np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)})[0]
    assert output.shape[0] == 1 and np.isfinite(output).all()


def test_fp16_conversion_of_a_model_with_unnamed_nodes_is_valid(tmp_path):
    """Exporters may leave node names empty (older paddle2onnx); the converter names its Casts after the node it
    wraps, so unnamed nodes once gave two Casts the name '_output_cast0' and an invalid model."""
    import onnx
    import onnxruntime as ort

    from tests.conftest import ROOT
    from workbench.core.model.loading import LoadedModel
    from workbench.core.precision.conversion import KeepSet, convert_model

    proto = onnx.load(str(ROOT / "tests" / "corpus" / "text_detector_p2o.onnx"))
    for node in proto.graph.node:
        node.name = ""
    model = LoadedModel.from_proto(proto)
    # Kept ops get Casts around them, named after the (unnamed) node: the case that collided.
    converted = convert_model(model, "fp16", KeepSet(op_types=["Sigmoid", "ConvTranspose"]))
    names = [n.name for n in converted.proto.graph.node]
    assert len(names) == len(set(names)) and all(names)
    onnx.checker.check_model(converted.proto, full_check=True)
    session = ort.InferenceSession(converted.proto.SerializeToString(), providers=["CPUExecutionProvider"])
    output = session.run(None, {"x": np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)})[0]
    assert np.isfinite(output).all()


def test_a_converted_paddle_style_model_is_labelled_fp16(backend):
    """paddle2onnx keeps every weight in a Constant node: the precision label reads those too (it said FP32)."""
    from tests.conftest import ROOT
    from workbench.core.build.engine import BuildSettings
    from workbench.core.build.precision_label import precision_label
    from workbench.core.model.loading import load_model
    from workbench.core.precision.conversion import convert_model

    model = load_model(ROOT / "tests" / "corpus" / "text_detector_p2o.onnx")
    assert precision_label(model, BuildSettings(), backend) == "FP32"
    assert precision_label(convert_model(model, "fp16"), BuildSettings(), backend).startswith("FP16")


def test_a_weight_declared_as_an_input_stays_overridable_and_shared_weights_exist_in_both_types():
    """A weight also listed as a graph input is a default the caller may override (IR 3 lists every weight so): it is
    read through a Cast, never replaced by a copy. A weight read by a kept and a converted node exists in both types,
    each side reading its own."""
    weight = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="project"),
             helper.make_node("Add", ["h", "w"], ["y"], name="add_weight")]
    declared = make_model(nodes, [tensor("x", [4, 4]), tensor("w", [4, 4])], [tensor("y", [4, 4])], [weight])
    converted = convert_model(LoadedModel.from_proto(declared))
    assert [(t.name, t.data_type) for t in converted.proto.graph.initializer] == [("w", TensorProto.FLOAT)]
    override = np.full((4, 4), 2.0, np.float32)
    x = np.ones((4, 4), np.float32)
    from workbench.core.runners import OnnxruntimeRunner

    result = OnnxruntimeRunner(converted).run({"x": x, "w": override})["y"]
    np.testing.assert_allclose(result, x @ override + override, rtol=1e-3)

    shared = make_model(nodes, [tensor("x", [4, 4])], [tensor("y", [4, 4])], [weight])
    kept = convert_model(LoadedModel.from_proto(shared), keep=KeepSet(["add_weight"]))
    types = {t.name: t.data_type for t in kept.proto.graph.initializer}
    assert sorted(types.values()) == [TensorProto.FLOAT, TensorProto.FLOAT16] and types["w"] == TensorProto.FLOAT
    readers = {n.name: list(n.input) for n in kept.proto.graph.node}
    assert readers["add_weight"][1] == "w" and types[readers["project"][1]] == TensorProto.FLOAT16


def test_loop_body_is_converted_inside_with_fp32_loop_carried_values():
    """v ← tanh(v @ W + b) for M iterations, W and b outer-scope weights: the body's MatMul/Add/Tanh compute in FP16
    with Casts inside the body, the Loop's own inputs and outputs (loop-carried v, scan outputs) stay float32."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array((rng.standard_normal((8, 8)) * 0.3).astype(np.float32), "W"),
               numpy_helper.from_array(np.full((1, 8), 0.1, np.float32), "b"),
               numpy_helper.from_array(np.array(5, np.int64), "M"), numpy_helper.from_array(np.array(True), "cond")]
    body = helper.make_graph(
        [helper.make_node("MatMul", ["v_in", "W"], ["vw"], name="body_matmul"),
         helper.make_node("Add", ["vw", "b"], ["vb"], name="body_add"),
         helper.make_node("Tanh", ["vb"], ["v_out"], name="body_tanh"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond"),
         helper.make_node("Identity", ["v_out"], ["scan_out"], name="body_scan")],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1, 8]),
         helper.make_tensor_value_info("scan_out", TensorProto.FLOAT, [1, 8])])
    nodes = [helper.make_node("Loop", ["M", "cond", "x"], ["v", "steps"], name="loop", body=body)]
    proto = make_model(nodes, [tensor("x", [1, 8])], [tensor("v", [1, 8]), tensor("steps", [5, 1, 8])], weights)
    model = LoadedModel.from_proto(proto)
    converted, conversion = convert_with_decisions(model)
    assert conversion.decisions["loop"] is Decision.CONTROL_FLOW
    assert all(conversion.decisions[name].converted for name in ("body_matmul", "body_add", "body_tanh"))
    [loop] = [n for n in converted.proto.graph.node if n.op_type == "Loop"]
    converted_body = loop.attribute[0].g
    assert [o.type.tensor_type.elem_type for o in converted_body.output] == [TensorProto.BOOL, TensorProto.FLOAT,
                                                                            TensorProto.FLOAT]
    assert any(n.op_type == "Cast" for n in converted_body.node)
    x = rng.standard_normal((1, 8)).astype(np.float32)
    check = check_accuracy(model, converted, {"x": x}, Tolerances(FP16_ATOL, FP16_RTOL))
    assert check.passed, [o.reason for o in check.outputs]


def test_index_math_on_shapes_stays_fp32():
    """A size computed in float from a shape (Shape → Cast → Mul 1.5 → Floor → Cast int64, as TorchScript exports
    write interpolation sizes) stays FP32: float16 holds integers exactly only up to 2048, so 3001 × 1.5 = 4501.5
    would floor to 4500 there."""
    constants = [numpy_helper.from_array(np.array([2], np.int64), "height_axis"),
                 numpy_helper.from_array(np.array(1.5, np.float32), "factor")]
    nodes = [helper.make_node("Shape", ["x"], ["shape"], name="shape"),
             helper.make_node("Gather", ["shape", "height_axis"], ["height"], name="height"),
             helper.make_node("Cast", ["height"], ["height_float"], name="to_float", to=TensorProto.FLOAT),
             helper.make_node("Mul", ["height_float", "factor"], ["scaled"], name="scale"),
             helper.make_node("Floor", ["scaled"], ["floored"], name="floor"),
             helper.make_node("Cast", ["floored"], ["size"], name="to_int", to=TensorProto.INT64),
             helper.make_node("Relu", ["x"], ["y"], name="relu")]
    proto = make_model(nodes, [tensor("x", [1, 1, 3001, 2])],
                       [tensor("y", [1, 1, 3001, 2]), tensor("size", [1], TensorProto.INT64)], constants)
    model = LoadedModel.from_proto(proto)
    converted, conversion = convert_with_decisions(model)
    assert {conversion.decisions[name] for name in ("to_float", "scale", "floor", "to_int")} == {Decision.INDEX_MATH}
    assert conversion.decisions["relu"].converted
    from workbench.core.runners import OnnxruntimeRunner

    size = OnnxruntimeRunner(converted).run({"x": np.ones((1, 1, 3001, 2), np.float32)})["size"]
    assert size.tolist() == [4501]
