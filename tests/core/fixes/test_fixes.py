"""Each catalogue fix on a model that shows its problem: the graph afterwards, parity, and the real
TensorRT-RTX parser/builder rejecting the model before and accepting it after."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import SAMPLES
from tests.onnx_factory import make_model, tensor, weights
from workbench.core.analysis.support import analyze_support
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import apply_fix, make_step, parse_spec
from workbench.core.fixes.base import Fix
from workbench.core.fixes.detect import detect_problems
from workbench.core.fixes.registry import FIXES, suggested_params
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.compare.parity import BEYOND, EXACT, NOT_CHECKABLE, WITHIN, check_parity


def trt_verdict(backend, model: LoadedModel) -> str:
    """"parse-error: …", "build-error: …" or "built", from the real TensorRT parser and builder."""
    logger = backend.logger(None)
    builder, network, parser = backend.create_builder_network(logger)
    if not parser.parse(model.serialized, model.parser_path):
        return "parse-error: " + parser.get_error(0).desc()
    engine = builder.build_serialized_network(network, builder.create_builder_config())
    return "built" if engine is not None else "build-error: " + " ".join(logger.errors())


def fixed(model, spec):
    result = apply_fix(model, parse_spec(spec))
    onnx.checker.check_model(result.after.full_proto())
    return result


def test_catalogue_has_every_required_fix_with_a_description():
    assert list(FIXES) == ["fold-constants", "set-input-shape", "set-input-dtype", "rename-dims", "freeze-input",
                           "fix-resize-mode", "replace-nms", "fuse-groupnorm", "cut-outputs", "remove-unused",
                           "convert-precision", "quantize"]
    assert all(fix.description and fix.transform for fix in FIXES.values())


def test_each_fix_decides_whether_it_changes_the_models_meaning():
    meaning_changing = {name for name, fix in FIXES.items() if fix.changes_meaning}
    assert meaning_changing == {"set-input-shape", "freeze-input", "replace-nms", "cut-outputs"}
    with pytest.raises(TypeError, match="changes_meaning"):  # a new fix cannot leave the decision out
        Fix(name="new-fix", title="New fix", description="A fix nobody classified.", params=(),
            transform=lambda graph, params, context, model: graph)


def test_freeze_input_removes_the_if_and_the_real_parser_then_parses_and_builds(backend):
    model = load_model(SAMPLES / "if_scalar.onnx")
    assert trt_verdict(backend, model).startswith("parse-error")
    problems = analyze_support(model, backend).problems
    parser_error = next(p for p in problems if p.kind == "parser-error")
    assert parser_error.fixes == ["freeze-input"]
    assert suggested_params("freeze-input", model, parser_error) == {"input": "downsample_ratio"}
    control = next(p for p in problems if p.kind == "control-input")
    assert control.inputs == ["downsample_ratio"] and control.fixes == ["freeze-input"]

    result = fixed(model, "freeze-input:input=downsample_ratio,value=0.5")
    ops = [n.op_type for n in result.after.proto.graph.node]
    assert "If" not in ops and "Resize" in ops
    assert [t.name for t in result.after.summary().inputs] == ["image"]
    assert "choose_resolution" in result.preview.removed
    assert trt_verdict(backend, result.after) == "built"
    parity = check_parity(model, result.after, frozen_inputs=result.frozen_inputs)
    assert parity.verdict in (EXACT, WITHIN), parity.text
    assert [c.name for c in parity.outputs] == ["pooled"]


def test_freeze_input_with_full_resolution_value_takes_the_other_branch(backend):
    model = load_model(SAMPLES / "if_scalar.onnx")
    result = fixed(model, "freeze-input:input=downsample_ratio,value=1")
    assert "Resize" not in [n.op_type for n in result.after.proto.graph.node]
    assert check_parity(model, result.after, frozen_inputs=result.frozen_inputs).verdict in (EXACT, WITHIN)


def test_set_input_shape_lets_clean_cnn_build_without_a_profile(backend):
    model = load_model(SAMPLES / "clean_cnn.onnx")
    assert "no optimization profile" in trt_verdict(backend, model)
    problem = next(p for p in analyze_support(model, backend).problems if p.kind == "dynamic-input")
    assert problem.fixes == ["set-input-shape"]
    assert suggested_params("set-input-shape", model, problem) == {"input": "images", "shape": "1x3x64x64"}
    result = fixed(model, "set-input-shape:input=images,shape=1x3x64x64")
    summary = result.after.summary()
    assert summary.inputs[0].shape == (1, 3, 64, 64) and summary.outputs[0].shape == (1, 10)
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict == EXACT


def test_set_input_dtype_makes_an_int16_input_acceptable(backend):
    proto = make_model([helper.make_node("Cast", ["x"], ["xf"], name="to_float", to=TensorProto.FLOAT),
                        helper.make_node("Relu", ["xf"], ["y"], name="relu")],
                       [tensor("x", [1, 4], TensorProto.INT16)], [tensor("y", [1, 4])])
    model = LoadedModel.from_proto(proto)
    assert "INT16" in trt_verdict(backend, model) or "parse-error" in trt_verdict(backend, model)
    problem = next(p for p in detect_problems(model, backend) if p.kind == "input-dtype")
    assert problem.severity == "error" and problem.fixes == ["set-input-dtype"]
    result = fixed(model, "set-input-dtype:input=x,dtype=int32")
    assert result.after.summary().inputs[0].dtype == "int32"
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict == EXACT


def test_set_input_dtype_inserts_a_cast_when_the_input_feeds_real_ops(backend):
    proto = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [tensor("x", [1, 4])],
                       [tensor("y", [1, 4])])
    model = LoadedModel.from_proto(proto)
    result = fixed(model, "set-input-dtype:input=x,dtype=float16")
    cast = result.after.proto.graph.node[0]
    assert (cast.op_type, cast.input[0], cast.output[0]) == ("Cast", "x", "x_as_float32")
    assert result.preview.added == ["x/cast_to_float32"]
    parity = check_parity(model, result.after)
    assert parity.verdict in (WITHIN, BEYOND) and parity.outputs[0].max_abs < 1e-3


def test_uint8_sample_keeps_its_meaning_with_a_float_input(backend):
    model = load_model(SAMPLES / "uint8_resize.onnx")
    result = fixed(model, "set-input-dtype:input=image,dtype=float32")
    assert result.after.summary().inputs[0].dtype == "float32"
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict == EXACT


def _resize_model(**attrs):
    inits = [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode="linear", **attrs)
    return LoadedModel.from_proto(make_model([node], [tensor("x", [1, 2, 4, 4])], [tensor("y", [1, 2, 8, 8])], inits,
                                             opset=19))


def test_fix_resize_mode_turns_a_rejected_mode_into_one_the_parser_takes(backend):
    model = _resize_model(coordinate_transformation_mode="half_pixel_symmetric")
    assert "TensorRT only supports" in trt_verdict(backend, model)
    problem = next(p for p in analyze_support(model, backend).problems if p.kind == "resize-mode")
    assert problem.fixes == ["fix-resize-mode"] and problem.node == "up"
    result = fixed(model, "fix-resize-mode:node=up,mode=half_pixel")
    attrs = {a.name: helper.get_attribute_value(a) for a in result.after.proto.graph.node[0].attribute}
    assert attrs["coordinate_transformation_mode"] == b"half_pixel"
    assert any("outputs change numerically" in w for w in result.warnings)
    assert result.preview.changed == ["up"]
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict != NOT_CHECKABLE


def test_cut_outputs_before_nms_makes_the_detector_build(rtx_backend):
    backend = rtx_backend
    model = load_model(SAMPLES / "nms_detector.onnx")
    assert "has no runners" in trt_verdict(backend, model)
    problem = next(p for p in analyze_support(model, backend).problems if p.kind == "nms")
    assert problem.fixes == ["replace-nms", "cut-outputs"] and problem.severity == "error"
    params = suggested_params("cut-outputs", model, problem)
    assert params == {"tensors": "boxes;scores"}
    result = apply_fix(model, make_step("cut-outputs", params))
    assert [t.name for t in result.after.summary().outputs] == ["boxes", "scores"]
    assert {"nms", "gather_boxes", "box_index"} <= set(result.preview.removed)
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict == EXACT


def test_replace_nms_writes_an_efficient_nms_plugin_and_says_what_cannot_be_checked(backend):
    model = load_model(SAMPLES / "nms_detector.onnx")
    result = apply_fix(model, parse_spec("replace-nms:score_threshold=0.25,iou_threshold=0.45,max_detections=50"))
    graph = result.after.proto.graph
    plugin = next(n for n in graph.node if n.op_type == "EfficientNMS_TRT")
    attrs = {a.name: helper.get_attribute_value(a) for a in plugin.attribute}
    assert attrs["max_output_boxes"] == 50 and attrs["box_coding"] == 0
    assert attrs["score_threshold"] == pytest.approx(0.25) and attrs["iou_threshold"] == pytest.approx(0.45)
    assert list(plugin.input) == ["boxes", "scores_classes_last"]
    assert [o.name for o in graph.output] == ["num_detections", "detection_boxes", "detection_scores",
                                              "detection_classes"]
    assert not {"NonMaxSuppression", "Gather", "Slice"} & {n.op_type for n in graph.node}
    assert result.after.summary().outputs[1].shape == (1, 50, 4)
    parity = check_parity(model, result.after)
    assert parity.verdict == NOT_CHECKABLE and "EfficientNMS_TRT" in parity.reason
    problems = analyze_support(result.after, backend).problems
    unavailable = [p for p in problems if p.kind == "plugin-unavailable"]
    if "EfficientNMS_TRT" in backend.plugin_names:  # full TensorRT has the plugin
        assert not unavailable
    else:
        assert backend.name in unavailable[0].message and "full TensorRT" in unavailable[0].message
    assert suggested_params("replace-nms", model)["score_threshold"] == str(np.float32(0.05).item())


def test_fuse_groupnorm_makes_one_op_with_parity(backend):
    model = load_model(SAMPLES / "groupnorm.onnx")
    problem = next(p for p in detect_problems(model, backend) if p.kind == "groupnorm-pattern")
    assert problem.fixes == ["fuse-groupnorm"]
    result = fixed(model, "fuse-groupnorm")
    ops = [n.op_type for n in result.after.proto.graph.node]
    assert ops == ["Conv", "GroupNormalization", "Relu"]
    assert {o.domain or "": o.version for o in result.after.proto.opset_import}[""] == 21
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict in (EXACT, WITHIN)
    assert detect_problems(result.after, backend) == []


def test_fold_constants_folds_constant_subgraphs_and_the_result_parses(backend):
    shape_chain = [helper.make_node("Shape", ["w"], ["w_shape"], name="w_shape"),
                   helper.make_node("Add", ["w", "w"], ["w2"], name="double_w"),
                   helper.make_node("MatMul", ["x", "w2"], ["y"], name="matmul")]
    proto = make_model(shape_chain, [tensor("x", [2, 4])], [tensor("y", [2, 3])], [weights("w", (4, 3))])
    model = LoadedModel.from_proto(proto)
    assert [p.kind for p in detect_problems(model, backend)] == ["foldable-constants", "unused-graph-parts"]
    result = fixed(model, "fold-constants")
    assert [n.op_type for n in result.after.proto.graph.node] == ["MatMul"]
    assert set(result.preview.removed) == {"w_shape", "double_w"}
    assert trt_verdict(backend, result.after) == "built"
    assert check_parity(model, result.after).verdict in (EXACT, WITHIN)
    slim = fixed(model, "fold-constants:engine=onnxslim")
    assert [n.op_type for n in slim.after.proto.graph.node] == ["MatMul"]


def test_remove_unused_drops_inputs_initializers_and_dead_nodes(backend):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu"), helper.make_node("Neg", ["x"], ["dead"], name="neg")]
    proto = make_model(nodes, [tensor("x", [2]), tensor("unused", [3])], [tensor("y", [2])], [weights("w", (5,))])
    model = LoadedModel.from_proto(proto)
    kinds = {p.kind: p for p in detect_problems(model, backend)}
    assert kinds["unused-input"].inputs == ["unused"] and "neg" in kinds["unused-graph-parts"].message
    result = fixed(model, "remove-unused")
    graph = result.after.proto.graph
    assert [n.name for n in graph.node] == ["relu"] and [i.name for i in graph.input] == ["x"]
    assert not graph.initializer
    assert check_parity(model, result.after).verdict == EXACT


def test_steps_round_trip_through_their_text_form():
    for spec in ["set-input-shape:input=x,shape=1x3x512x512", "cut-outputs:tensors=a;b",
                 "freeze-input:input=r,value=0.25,fold=true", "fix-resize-mode:node=n,mode=align_corners",
                 "replace-nms:score_threshold=0.3,iou_threshold=0.5,max_detections=100",
                 "fold-constants:engine=onnxslim"]:
        step = parse_spec(spec)
        assert parse_spec(step.spec()) == step
        assert make_step(step.name, step.to_dict()["params"]) == step


@pytest.mark.parametrize("spec, message", [
    ("freeze-input:input=missing,value=1", "no input named 'missing'"),
    ("set-input-shape:input=images,shape=1x3x64", "has rank 3"),
    ("set-input-shape:input=images,shape=1x4x64x64", "fixed at 3"),
    ("set-input-shape:input=images,shape=1xax64x64", "is not a shape"),
    ("set-input-dtype:input=images,dtype=float99", "is not a dtype"),
    ("set-input-dtype:input=images,dtype=float32", "already float32"),
    ("cut-outputs:tensors=nope", "no tensor named 'nope'"),
    ("fold-constants:engine=magic", "not one of graphsurgeon, onnxslim"),
    ("fold-constants:speed=1", "has no parameter 'speed'"),
    ("no-such-fix", "Unknown fix 'no-such-fix'"),
    ("set-input-shape:input", "Cannot read 'input'"),
    ("fuse-groupnorm", "No GroupNorm export pattern"),
    ("replace-nms", "no NonMaxSuppression node"),
])
def test_bad_parameters_get_a_clear_error_and_change_nothing(spec, message):
    file_bytes = (SAMPLES / "clean_cnn.onnx").read_bytes()
    model = load_model(SAMPLES / "clean_cnn.onnx")
    before = model.serialized
    with pytest.raises(WorkbenchError) as info:
        apply_fix(model, parse_spec(spec))
    assert message in str(info.value)
    assert model.serialized == before and (SAMPLES / "clean_cnn.onnx").read_bytes() == file_bytes


def test_freeze_input_checks_the_value_against_the_input_dtype():
    proto = make_model([helper.make_node("Add", ["x", "n"], ["y"], name="add")],
                       [tensor("x", [2], TensorProto.INT64), tensor("n", [], TensorProto.INT64)],
                       [tensor("y", [2], TensorProto.INT64)])
    model = LoadedModel.from_proto(proto)
    with pytest.raises(WorkbenchError, match="int64; 0.5 is not an integer"):
        apply_fix(model, parse_spec("freeze-input:input=n,value=0.5"))
    with pytest.raises(WorkbenchError, match="3 values were given"):
        apply_fix(model, parse_spec("freeze-input:input=x,value=1;2;3"))
    result = apply_fix(model, parse_spec("freeze-input:input=n,value=3"))
    assert [t.name for t in result.after.summary().inputs] == ["x"]
    assert check_parity(model, result.after, frozen_inputs=result.frozen_inputs).verdict == EXACT
