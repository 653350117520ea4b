"""Catalogue fixes on real exports (tests/corpus): constants written as Constant nodes, If bodies
that inline, and results that are checked before anything is kept.

Every result here is judged by onnx's full check, onnxruntime (parity against the original at
realistic shapes) and the real TensorRT-RTX parser.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnx_graphsurgeon as gs
import pytest
from onnx import helper

from tests.conftest import CORPUS, SAMPLES
from tests.corpus.catalog import CATALOG
from workbench.cli import main
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import apply_fix, make_step, parse_spec, replay
from workbench.core.fixes.detect import detect_problems
from workbench.core.fixes.registry import FIXES, suggested_params
from workbench.core.fixes.graph_tools import export_model
from workbench.core.model.input_roles import steered_nodes
from workbench.core.validation import ONNX_CHECKER, ONNXRUNTIME, validate_fixed_model
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.compare.parity import EXACT, NOT_CHECKABLE, WITHIN, check_parity
from workbench.core.model.switches import default_values


def trt_parse_errors(backend, model: LoadedModel) -> list[str]:
    """What the real TensorRT-RTX parser says about ``model`` (empty when it takes it)."""
    _builder, _network, parser = backend.create_builder_network(backend.logger(None))
    if parser.parse(model.serialized, model.parser_path):
        return []
    return [parser.get_error(i).desc() for i in range(parser.num_errors)]


def assert_valid_and_equivalent(backend, original: LoadedModel, result, allowed=(EXACT, WITHIN)):
    onnx.checker.check_model(result.after.proto, full_check=True)
    assert result.validation.checked_by == [ONNX_CHECKER, ONNXRUNTIME]
    parity = check_parity(original, result.after, frozen_inputs=result.frozen_inputs)
    assert parity.verdict in allowed, parity.text
    assert trt_parse_errors(backend, result.after) == []
    return parity


# --- fuse-groupnorm on PyTorch's own GroupNorm export -------------------------------------------

def test_fuse_groupnorm_finds_and_fuses_pytorchs_real_export(backend):
    model = load_model(CORPUS / "groupnorm_ts.onnx")
    facts = CATALOG["groupnorm_ts.onnx"]["facts"]
    # The exporter writes the group shape and InstanceNormalization's scale/bias as Constant nodes.
    instance_norms = [n for n in model.proto.graph.node if n.op_type == "InstanceNormalization"]
    producers = {out: node.op_type for node in model.proto.graph.node for out in node.output}
    assert {producers[n.input[1]] for n in instance_norms} == {"Constant"}

    found = [p for p in detect_problems(model, backend) if p.kind == "groupnorm-pattern"]
    assert len(found) == facts["groupnorm_count"]
    assert all(f"({facts['groups']} groups)" in p.message for p in found)

    result = apply_fix(model, make_step("fuse-groupnorm"))
    ops = [n.op_type for n in result.after.proto.graph.node]
    assert ops.count("GroupNormalization") == facts["groupnorm_count"]
    assert not {"InstanceNormalization", "Constant", "Shape"} & set(ops)  # the pattern's Constant nodes are gone
    fused = next(n for n in result.after.proto.graph.node if n.op_type == "GroupNormalization")
    assert helper.get_attribute_value(next(a for a in fused.attribute if a.name == "num_groups")) == facts["groups"]
    assert_valid_and_equivalent(backend, model, result)


# --- freeze-input with fold=true on models whose If bodies inline ------------------------------

SWITCHES = [("audio_gain_switch_ts.onnx", 16000), ("audio_gain_switch_ts.onnx", 8000),
            ("audio_switch_ts.onnx", 16000), ("if_cond_dynamo.onnx", 1), ("if_cond_dynamo.onnx", 0)]


@pytest.mark.parametrize(("name", "value"), SWITCHES, ids=[f"{n}-{v}" for n, v in SWITCHES])
def test_freezing_a_switch_input_with_fold_inlines_the_branch_into_a_valid_model(backend, name, value):
    model = load_model(CORPUS / name)
    switch = CATALOG[name]["facts"]["switch"]["input"]
    switch_ifs = {n.name for n in model.proto.graph.node if n.op_type == "If"}
    assert set(steered_nodes(model.proto.graph, model.summary().inputs)[switch]) >= switch_ifs
    result = apply_fix(model, parse_spec(f"freeze-input:input={switch},value={value},fold=true"))
    # The branch taken is inlined (it may hold Ifs of its own, e.g. TorchScript's squeeze-if-size-1).
    assert switch_ifs <= set(result.preview.removed)
    assert switch not in {t.name for t in result.after.summary().inputs}
    assert_valid_and_equivalent(backend, model, result)


def test_graphsurgeons_own_if_flattening_is_what_broke_the_model():
    """Why ``fold`` inlines If branches itself: graphsurgeon's flattening drops a branch output that
    is a constant, so the reader of the If output reads a tensor nothing computes."""
    name = "audio_gain_switch_ts.onnx"
    frozen = apply_fix(load_model(CORPUS / name), parse_spec("freeze-input:input=sample_rate,value=16000,fold=false"))
    graph = gs.import_onnx(frozen.after.proto)
    graph.fold_constants().cleanup().toposort()
    with pytest.raises(onnx.checker.ValidationError, match="is not output of any previous nodes"):
        onnx.checker.check_model(export_model(graph, frozen.after.proto), full_check=True)


# --- a fix whose result is invalid is an error: nothing kept, nothing written -------------------

# The segmenter's skip connections need H and W in multiples of 32 (catalogue: fails_at 250 in a Concat).
SEGMENTER = "segmenter_dynamo.onnx"
BAD_SHAPE_CASE = CATALOG[SEGMENTER]["facts"]["fails_at"][0]
BAD_SHAPE = "x".join(map(str, BAD_SHAPE_CASE[0]["image"]))
BAD_STEP = f"set-input-shape:input=image,shape={BAD_SHAPE}"


def test_invalid_result_is_an_error_naming_the_node_and_what_to_try():
    model = load_model(CORPUS / SEGMENTER)
    with pytest.raises(WorkbenchError) as caught:
        apply_fix(model, parse_spec(BAD_STEP))
    error = caught.value
    op = BAD_SHAPE_CASE[2]
    assert "produced an invalid model" in error.message and f"({op})" in error.message
    node = error.message.split("node '")[1].split("'")[0]
    assert any(n.name == node and n.op_type == op for n in model.proto.graph.node)
    assert "Nothing was changed or written" in error.hint and "multiples of the network's stride" in error.hint
    assert "ShapeInferenceError" in error.detail
    with pytest.raises(WorkbenchError, match=r"^Step 2 \(set-input-shape"):
        replay(model, [make_step("remove-unused"), parse_spec(BAD_STEP)])
    # The same dims at a multiple of 32 are fine.
    apply_fix(model, parse_spec("set-input-shape:input=image,shape=1x3x256x320"))


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_cli_writes_nothing_and_exits_2_on_an_invalid_result(tmp_path, capsys, as_json):
    output = tmp_path / "fixed.onnx"
    code = main(["fix", str(CORPUS / SEGMENTER), "--apply", BAD_STEP, "-o", str(output)] + (["--json"] * as_json))
    captured = capsys.readouterr()
    assert code == 2 and not output.exists() and not list(tmp_path.iterdir())
    if as_json:
        error = json.loads(captured.out)["error"]
        assert "produced an invalid model" in error["message"] and "Nothing was changed" in error["hint"]
    else:
        assert "produced an invalid model" in captured.err and "Wrote" not in captured.out


def test_cli_reports_the_validation_of_each_step(tmp_path, capsys):
    output = tmp_path / "fixed.onnx"
    code = main(["fix", str(CORPUS / "audio_gain_switch_ts.onnx"), "--apply",
                 "freeze-input:input=sample_rate,value=16000", "-o", str(output), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and output.exists()
    assert data["steps"][0]["validation"]["checked_by"] == [ONNX_CHECKER, ONNXRUNTIME]
    onnx.checker.check_model(str(output), full_check=True)


def test_plugin_op_results_are_not_checkable_by_onnxruntime_not_invalid():
    model = load_model(SAMPLES / "nms_detector.onnx")
    result = apply_fix(model, make_step("replace-nms"))
    assert result.validation.checked_by == [ONNX_CHECKER]
    assert "EfficientNMS_TRT" in result.validation.not_checkable
    assert check_parity(model, result.after).verdict == NOT_CHECKABLE


def test_replace_nms_refuses_torchvisions_nms_inside_an_if_and_points_to_cut_outputs(backend):
    model = load_model(CORPUS / "detector_nms_ts.onnx")
    problem = next(p for p in detect_problems(model, backend) if p.kind == "nms")
    assert problem.parent and problem.fixes == ["cut-outputs"]
    with pytest.raises(WorkbenchError, match="runs inside") as caught:
        apply_fix(model, make_step("replace-nms"))
    assert "cut-outputs" in caught.value.hint


# --- paddle2onnx style: every weight a Constant node --------------------------------------------

def as_constant_nodes(proto: onnx.ModelProto) -> onnx.ModelProto:
    """What paddle2onnx writes: no initializers, every weight a Constant node at the top."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    constants = [helper.make_node("Constant", [], [t.name], name=f"p2o.Constant.{i}", value=t)
                 for i, t in enumerate(copy.graph.initializer)]
    nodes = constants + list(copy.graph.node)
    del copy.graph.initializer[:]
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy


def as_initializers(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The other way round: every top-level Constant node's value becomes an initializer."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    kept = []
    for node in copy.graph.node:
        if node.op_type == "Constant" and node.attribute[0].name == "value":
            tensor = onnx.TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
            tensor.name = node.output[0]
            copy.graph.initializer.append(tensor)
        else:
            kept.append(node)
    del copy.graph.node[:]
    copy.graph.node.extend(kept)
    return copy


def findings(model: LoadedModel, backend) -> list[tuple]:
    """Every detector's findings with the parameters each answering fix would be pre-filled with,
    and the values the repair search would freeze each switch input at."""
    found = []
    for problem in detect_problems(model, backend):
        if problem.kind in ("foldable-constants", "unused-graph-parts"):
            continue  # about how constants are stored, which is what differs on purpose
        prefill = {name: suggested_params(name, model, problem) for name in problem.fixes}
        switches = {name: [v for v, _ in default_values(model, name)] for name in problem.inputs
                    if problem.kind == "control-input"}
        found.append((problem.kind, problem.node, problem.message, problem.fixes, prefill, switches))
    return sorted(found, key=repr)


STORED_AS_INITIALIZERS = [CORPUS / "groupnorm_ts.onnx", CORPUS / "audio_gain_switch_ts.onnx",
                          CORPUS / "if_cond_dynamo.onnx", CORPUS / "detector_nms_ts.onnx",
                          SAMPLES / "nms_detector.onnx", SAMPLES / "groupnorm.onnx", SAMPLES / "if_scalar.onnx"]


@pytest.mark.parametrize("path", STORED_AS_INITIALIZERS, ids=lambda p: p.name)
def test_detectors_find_the_same_when_every_weight_is_a_constant_node(backend, path):
    model = load_model(path)
    paddle_style = LoadedModel.from_proto(as_constant_nodes(model.full_proto()))
    assert not paddle_style.proto.graph.initializer
    expected = findings(model, backend)
    assert expected, "the model shows at least one problem a detector should find"
    assert findings(paddle_style, backend) == expected


@pytest.mark.parametrize("name", [n for n in CATALOG if n.endswith("_p2o.onnx")])
def test_paddle2onnx_exports_give_what_their_initializer_version_gives(backend, name):
    model = load_model(CORPUS / name)
    assert not model.proto.graph.initializer
    assert findings(model, backend) == findings(LoadedModel.from_proto(as_initializers(model.full_proto())), backend)


def test_the_model_summary_counts_weights_held_in_constant_nodes():
    model = load_model(CORPUS / "text_detector_p2o.onnx")
    twin = LoadedModel.from_proto(as_initializers(model.full_proto())).summary()
    assert model.summary().parameter_count == twin.parameter_count > 50_000
    assert model.summary().parameter_bytes == twin.parameter_bytes


def test_fixes_on_an_all_constant_node_model_read_its_constants(backend):
    """fuse-groupnorm and replace-nms read their scales, shapes and thresholds from Constant nodes."""
    groupnorm = LoadedModel.from_proto(as_constant_nodes(load_model(CORPUS / "groupnorm_ts.onnx").full_proto()))
    result = apply_fix(groupnorm, make_step("fuse-groupnorm"))
    assert [n.op_type for n in result.after.proto.graph.node].count("GroupNormalization") == 2
    assert_valid_and_equivalent(backend, groupnorm, result)

    samples_nms = load_model(SAMPLES / "nms_detector.onnx")
    nms = LoadedModel.from_proto(as_constant_nodes(samples_nms.full_proto()))
    expected = suggested_params("replace-nms", samples_nms)
    assert float(expected["iou_threshold"]) > 0 and suggested_params("replace-nms", nms) == expected


def unused_constant_nodes(model: LoadedModel) -> list[str]:
    graph = model.proto.graph
    read = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    return [node.output[0] for node in graph.node if node.op_type == "Constant" and node.output[0] not in read]


def test_constant_nodes_a_fix_stops_reading_are_removed(backend):
    nms = LoadedModel.from_proto(as_constant_nodes(load_model(SAMPLES / "nms_detector.onnx").full_proto()))
    replaced = apply_fix(nms, make_step("replace-nms"))
    assert "NonMaxSuppression" not in {n.op_type for n in replaced.after.proto.graph.node}
    assert unused_constant_nodes(replaced.after) == []

    # A TensorFlow-style Resize: roi and scales as Constant nodes; the roi goes with tf_crop_and_resize.
    from tests.onnx_factory import make_model, tensor
    constants = [helper.make_node("Constant", [], ["roi"], value=onnx.numpy_helper.from_array(
                     np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32))),
                 helper.make_node("Constant", [], ["scales"], value=onnx.numpy_helper.from_array(
                     np.array([1, 1, 2, 2], np.float32)))]
    resize = helper.make_node("Resize", ["x", "roi", "scales"], ["y"], name="up", mode="linear",
                              coordinate_transformation_mode="tf_crop_and_resize")
    model = LoadedModel.from_proto(make_model(constants + [resize], [tensor("x", [1, 2, 4, 4])],
                                              [tensor("y", [1, 2, 8, 8])], opset=19))
    result = apply_fix(model, make_step("fix-resize-mode", {"mode": "half_pixel"}))
    assert [n.op_type for n in result.after.proto.graph.node] == ["Constant", "Resize"]
    assert unused_constant_nodes(result.after) == [] and trt_parse_errors(backend, result.after) == []


def test_every_catalogue_fix_still_validates_on_a_paddle2onnx_export(backend):
    model = load_model(CORPUS / "text_detector_p2o.onnx")
    for spec in ("fold-constants", "fold-constants:engine=onnxslim", "set-input-shape:input=x,shape=1x3x640x640"):
        result = apply_fix(model, parse_spec(spec))
        assert_valid_and_equivalent(backend, model, result)
    assert set(FIXES) >= {"fold-constants", "set-input-shape"}
    removed = apply_fix(model, make_step("remove-unused"))
    assert removed.preview.is_empty  # a graphsurgeon round trip alone changes no node


# --- what onnx-graphsurgeon's flattening got wrong, each case on its own ------------------------

def _branch(name, nodes, outputs):
    return helper.make_graph(nodes, name, [], [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None)
                                              for o in outputs])


def _if_model(then_nodes, then_outputs, else_nodes, else_outputs, after, outputs, n_out=2):
    from tests.onnx_factory import make_model, tensor
    condition = helper.make_node("Greater", ["flag", "zero"], ["cond"], name="compare")
    branch_outputs = [f"if_out{i}" for i in range(n_out)]
    if_node = helper.make_node("If", ["cond"], branch_outputs, name="switch",
                               then_branch=_branch("then", then_nodes, then_outputs),
                               else_branch=_branch("else", else_nodes, else_outputs))
    zero = onnx.numpy_helper.from_array(np.array(0, np.int64), "zero")
    return LoadedModel.from_proto(make_model(
        [helper.make_node("Relu", ["x"], ["outer"], name="outer_relu"), condition, if_node, *after],
        [tensor("x", [2, 3]), tensor("flag", [], onnx.TensorProto.INT64)], [tensor(o, [2, 3]) for o in outputs],
        [zero]))


def _constant(name, value):
    return helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(np.full((2, 3), value,
                                                                                               np.float32)))


BRANCH_CASES = {
    # the taken branch returns an outer tensor as is, and a constant
    "outer-and-constant": ([helper.make_node("Neg", ["outer"], ["t0"])], ["t0", "t0"],
                           [_constant("k", 2.0)], ["outer", "k"],
                           [helper.make_node("Mul", ["if_out0", "if_out1"], ["y"], name="mul")], ["y"]),
    # the taken branch returns one tensor twice, and both If outputs are graph outputs
    "same-result-twice": ([helper.make_node("Neg", ["outer"], ["t0"])], ["t0", "t0"],
                          [helper.make_node("Abs", ["outer"], ["e0"])], ["e0", "e0"], [], ["if_out0", "if_out1"]),
    # a branch tensor named like an outer one, and a result also read inside the branch
    "name-collision": ([helper.make_node("Neg", ["outer"], ["t0"])], ["t0", "t0"],
                       [helper.make_node("Abs", ["outer"], ["mul_out"]),
                        helper.make_node("Add", ["mul_out", "mul_out"], ["e1"])], ["mul_out", "e1"],
                       [helper.make_node("Mul", ["if_out0", "if_out1"], ["mul_out_outer"], name="mul"),
                        helper.make_node("Identity", ["mul_out_outer"], ["y"], name="out")], ["y"]),
}


@pytest.mark.parametrize("case", list(BRANCH_CASES))
def test_inlining_wires_every_kind_of_branch_output(case):
    model = _if_model(*BRANCH_CASES[case])
    result = apply_fix(model, parse_spec("freeze-input:input=flag,value=0"))  # the else branch
    assert "If" not in {n.op_type for n in result.after.proto.graph.node}
    assert [o.name for o in result.after.proto.graph.output] == [o.name for o in model.proto.graph.output]
    # onnxruntime refuses a branch that returns an outer tensor as is, and computes garbage for a tensor
    # returned twice (ONNX allows both): compare with the same model whose branch passes such outputs
    # through Identity nodes, as exporters write it.
    then_nodes, then_outputs, else_nodes, else_outputs, after, outputs = BRANCH_CASES[case]
    copies, reference_outputs = [], []
    for index, name in enumerate(else_outputs):
        if name == "outer" or name in else_outputs[:index]:
            copies.append(helper.make_node("Identity", [name], [f"{name}_copy{index}"]))
            name = f"{name}_copy{index}"
        reference_outputs.append(name)
    reference = _if_model(then_nodes, then_outputs, else_nodes + copies, reference_outputs, after, outputs)
    parity = check_parity(reference, result.after, frozen_inputs=result.frozen_inputs)
    assert parity.verdict == EXACT, parity.text


def test_nested_ifs_on_the_same_switch_inline_in_one_fold():
    inner = helper.make_node("If", ["cond"], ["inner_out"], name="inner",
                             then_branch=_branch("inner_then", [helper.make_node("Neg", ["outer"], ["n"])], ["n"]),
                             else_branch=_branch("inner_else", [helper.make_node("Abs", ["outer"], ["a"])], ["a"]))
    model = _if_model([inner, helper.make_node("Relu", ["inner_out"], ["r"])], ["r"],
                      [helper.make_node("Sigmoid", ["outer"], ["s"])], ["s"], [], ["if_out0"], n_out=1)
    result = apply_fix(model, parse_spec("freeze-input:input=flag,value=3"))
    assert sorted(n.op_type for n in result.after.proto.graph.node) == ["Neg", "Relu", "Relu"]
    assert check_parity(model, result.after, frozen_inputs=result.frozen_inputs).verdict == EXACT


def test_onnxruntime_judges_what_the_checker_lets_pass():
    """ONNX allows Abs on bfloat16; onnxruntime has no kernel for it, so no session (or engine check) could run it."""
    from tests.onnx_factory import make_model, tensor
    proto = make_model([helper.make_node("Abs", ["x"], ["y"], name="magnitude")],
                       [tensor("x", [2], onnx.TensorProto.BFLOAT16)], [tensor("y", [2], onnx.TensorProto.BFLOAT16)])
    onnx.checker.check_model(proto, full_check=True)
    with pytest.raises(WorkbenchError) as caught:
        validate_fixed_model(proto, "Test fix", "Try another fix.")
    error = caught.value
    assert error.message.startswith(f"Test fix produced an invalid model ({ONNXRUNTIME})")
    assert "Could not find an implementation for Abs" in error.message and "'magnitude'" in error.message
    assert error.hint.endswith("Try another fix.") and "NOT_IMPLEMENTED" in error.detail
    assert error.detail.startswith(f"{ONNXRUNTIME} on node 'magnitude'")


def test_a_fault_the_export_already_had_does_not_block_fixes():
    """An exporter's stale declared shape fails the full check before any fix; a fix that leaves it as it
    was is kept with a warning, and a fix that adds a fault of its own is still refused."""
    proto = onnx.ModelProto()
    proto.CopyFrom(load_model(CORPUS / SEGMENTER).full_proto())
    first_conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    declared = [v for v in proto.graph.value_info if v.name != first_conv.output[0]]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(declared)
    proto.graph.value_info.append(helper.make_tensor_value_info(first_conv.output[0], onnx.TensorProto.FLOAT,
                                                                [1, 99, 128, 160]))
    with pytest.raises(onnx.shape_inference.InferenceError, match="differ in dimension 1"):
        onnx.checker.check_model(proto, full_check=True)
    stale = LoadedModel.from_proto(proto)
    result = apply_fix(stale, parse_spec("remove-unused"))  # leaves the declared shapes as they are
    assert result.validation.checked_by == [] and "already invalid before this fix" in result.validation.text
    assert any(f"'{first_conv.name}'" in w and "did not cause it" in w for w in result.warnings)
    with pytest.raises(WorkbenchError, match=r"produced an invalid model .*\(Concat\)"):
        apply_fix(stale, parse_spec(BAD_STEP))
