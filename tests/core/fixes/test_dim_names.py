"""rename-dims on real exports: dims that share a placeholder name ('?') get names of their own.

TensorRT's ONNX parser takes dims that share a name to be equal, so paddle2onnx's '?' on N, H and W of an
image lets only profiles with N = H = W build. The models here are real exports (the paddle2onnx-style OCR
classifier with its '?' dims, the recognizer, Optimum's BERT); where a test needs '?' names on another export,
it writes them the way paddle2onnx does.
Every result is judged by onnx's full check, onnxruntime and the real TensorRT-RTX parser and builder.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from tests.conftest import CORPUS
from tests.corpus.catalog import CATALOG
from workbench.core.build.builder_errors import map_builder_errors
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.build.trial import trial_build
from workbench.core.compare.parity import EXACT, check_parity
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import apply_fix, make_step, parse_spec, step_from_dict
from workbench.core.fixes.detect import detect_problems
from workbench.core.fixes.registry import FIXES
from workbench.core.validation import ONNX_CHECKER, ONNXRUNTIME
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.model.tensor_shapes import infer_value_info
from workbench.core.problems import ProblemKind, Severity, Stage
from workbench.core.shapes.profiles import Profile, ShapeRange

CLASSIFIER = CORPUS / "text_classifier_p2o.onnx"  # PaddleOCR-like direction classifier, x: [?, 3, ?, ?]
RECOGNIZER = CORPUS / "text_recognizer_p2o.onnx"  # x: [p2o.DynamicDimension.0, 3, .1, .2]
BERT = CORPUS / "bert_optimum" / "model.onnx"  # input_ids, attention_mask, token_type_ids: [batch_size, seq…]
OCR_SHAPE = (1, 3, 48, 192)  # PaddleOCR's classifier input; the recognizer runs at it too (W is free)


def with_dim_names(path, names: dict[str, str], value_info: bool = False) -> LoadedModel:
    """The real export at ``path`` with its dim names replaced (``names``: old → new) on inputs and outputs,
    as an exporter that writes '?' would have written them; ``value_info`` adds inferred intermediate shapes
    first, so that stale declarations carry the names too."""
    proto = onnx.load(str(path))
    if value_info:
        proto.graph.value_info.extend(infer_value_info(proto).value_info)
    for value in [*proto.graph.input, *proto.graph.output, *proto.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in names:
                dim.dim_param = names[dim.dim_param]
    return LoadedModel.from_proto(proto, path)


def question_marks(path=RECOGNIZER, value_info: bool = False) -> LoadedModel:
    """paddle2onnx's older form: every dynamic dim of the inputs and outputs is '?'."""
    graph = onnx.load(str(path)).graph
    declared = {d.dim_param for v in [*graph.input, *graph.output] for d in v.type.tensor_type.shape.dim}
    return with_dim_names(path, {name: "?" for name in declared if name}, value_info)


def dim_names(model: LoadedModel) -> set[str]:
    graph = model.proto.graph
    return {d.dim_param for v in [*graph.input, *graph.output, *graph.value_info]
            for d in v.type.tensor_type.shape.dim if d.dim_param}


def fixed_shape(shape) -> Profile:
    return Profile({"x": ShapeRange(shape, shape, shape)})


def test_detector_names_the_dims_tensorrt_would_force_equal():
    model = question_marks()
    [problem] = [p for p in detect_problems(model) if p.kind == ProblemKind.SHARED_DIM_NAME]
    assert (problem.severity, problem.stage, problem.inputs) == (Severity.WARNING, Stage.MODEL, ["x"])
    assert "x[0] (batch), x[2] (height), x[3] (width)" in problem.message and "'?'" in problem.message
    assert "TensorRT takes dims that share a name to be equal" in problem.message
    assert problem.fixes == ["rename-dims"] and "x_batch, x_height, x_width" in problem.hint
    # The export as paddle2onnx writes it today (a name per dim) has nothing to warn about.
    assert not [p for p in detect_problems(load_model(RECOGNIZER)) if p.kind == ProblemKind.SHARED_DIM_NAME]


def test_rename_gives_each_dim_a_name_of_its_own_and_changes_no_output(backend):
    model = question_marks(value_info=True)
    assert "?" in {d.dim_param for v in model.proto.graph.value_info for d in v.type.tensor_type.shape.dim}
    result = apply_fix(model, make_step("rename-dims"))
    [x] = result.after.summary().inputs
    assert x.shape == ("x_batch", 3, "x_height", "x_width")
    [out] = result.after.summary().outputs
    assert out.shape[:2] == (f"{out.name}_dim0", f"{out.name}_dim1")  # no longer tied to the input's '?'
    assert "?" not in dim_names(result.after)  # the stale intermediate declarations lost it too
    assert result.preview.removed == result.preview.added == result.preview.changed == []
    onnx.checker.check_model(result.after.proto, full_check=True)
    assert result.validation.checked_by == [ONNX_CHECKER, ONNXRUNTIME]
    assert check_parity(model, result.after).verdict == EXACT
    feeds = {"x": np.random.default_rng(0).uniform(0, 1, OCR_SHAPE).astype(np.float32)}
    before, after = OnnxruntimeRunner(model).run(feeds), OnnxruntimeRunner(result.after).run(feeds)
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    _builder, _network, parser = backend.create_builder_network(backend.logger(None))
    assert parser.parse(result.after.serialized, result.after.parser_path)


def test_the_real_classifier_fails_to_build_at_its_deployment_shape_until_the_fix(backend):
    """PaddleOCR's direction classifier as paddle2onnx writes it (every dynamic dim '?') at its deployment shape."""
    model = load_model(CLASSIFIER)
    assert model.summary().inputs[0].shape == tuple(CATALOG[CLASSIFIER.name]["inputs"]["x"])
    shape = tuple(CATALOG[CLASSIFIER.name]["realistic"]["x"])
    failed = build_engine(model, BuildSettings(), [fixed_shape(shape)], backend=backend)
    assert not failed.succeeded
    [problem] = failed.problems
    assert (problem.kind, problem.stage, problem.inputs) == (ProblemKind.SHARED_DIM_NAME, Stage.BUILD, ["x"])
    assert "share the name '?'" in problem.message
    assert "x[0] (batch), x[2] (height), x[3] (width)" in problem.message
    assert f"x[0] = {shape[0]}, x[2] = {shape[2]}, x[3] = {shape[3]}" in problem.message
    assert problem.fixes == ["rename-dims"] and "?" in problem.detail and "name" in problem.detail  # the builder's text
    result = apply_fix(model, make_step(problem.fixes[0]))
    assert result.validation.checked_by == [ONNX_CHECKER, ONNXRUNTIME]
    assert build_engine(result.after, BuildSettings(), [fixed_shape(shape)], backend=backend).succeeded
    feeds = {"x": np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)}
    before, after = OnnxruntimeRunner(model).run(feeds), OnnxruntimeRunner(result.after).run(feeds)
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    assert check_parity(model, result.after).verdict == EXACT


def test_the_trial_build_of_the_analysis_reports_it_and_passes_after_the_fix(backend):
    model = load_model(CLASSIFIER)
    assert [p.kind for p in detect_problems(model, backend)].count(ProblemKind.SHARED_DIM_NAME) == 1
    before = trial_build(model, backend=backend)
    assert not before.succeeded and ProblemKind.SHARED_DIM_NAME in {p.kind for p in before.problems}
    fixed = apply_fix(model, make_step("rename-dims")).after
    assert not [p for p in detect_problems(fixed, backend) if p.kind == ProblemKind.SHARED_DIM_NAME]
    after = trial_build(fixed, backend=backend)
    assert after.succeeded, [p.message for p in after.problems]


def test_real_names_shared_for_a_reason_stay_shared():
    # Optimum's BERT: batch_size and sequence_length are one dim each across its three inputs. With the sequence
    # written as '?' everywhere, the same place of every input shares it: no warning (TensorRT forcing them
    # equal is what the model needs), and the fix leaves batch_size shared.
    model = with_dim_names(BERT, {"sequence_length": "?"})
    assert not [p for p in detect_problems(model) if p.kind == ProblemKind.SHARED_DIM_NAME]
    result = apply_fix(model, make_step("rename-dims"))
    assert {t.name: t.shape for t in result.after.summary().inputs} == {
        name: ("batch_size", f"{name}_dim1") for name in ("input_ids", "attention_mask", "token_type_ids")}
    assert check_parity(model, result.after).verdict == EXACT
    # Named explicitly, a real name is replaced too.
    named = apply_fix(load_model(BERT), make_step("rename-dims", {"names": "batch_size"})).after
    assert [t.shape[0] for t in named.summary().inputs] == ["input_ids_dim0", "attention_mask_dim0",
                                                             "token_type_ids_dim0"]


def test_a_real_name_given_unequal_values_is_mapped_without_offering_the_fix(backend):
    # The profile is at fault, not the name: every BERT input must have the same batch.
    model = load_model(BERT)
    ranges = {"input_ids": (1, 16), "attention_mask": (2, 16), "token_type_ids": (1, 16)}
    profile = Profile({name: ShapeRange(shape, shape, shape) for name, shape in ranges.items()})
    result = build_engine(model, BuildSettings(), [profile], backend=backend)
    [problem] = [p for p in result.problems if p.kind == ProblemKind.SHARED_DIM_NAME]
    assert "'batch_size'" in problem.message and "attention_mask[0] = 2" in problem.message
    assert problem.fixes == [] and "one value in every profile" in problem.hint


def test_full_tensorrts_wording_is_mapped_too():
    # Full TensorRT (10.x) words the refusal differently from TensorRT-RTX and names the values itself.
    text = ("[network.cpp::validate::3456] Error Code 4: API Usage Error (Profile kOPT values are not "
            "self-consistent. Dimensions with name ? must be equal. Condition '==' violated: 320 != 224)")
    [problem] = map_builder_errors([text], question_marks())
    assert problem.kind == ProblemKind.SHARED_DIM_NAME and "(320 != 224)" in problem.message
    assert "x[2] (height), x[3] (width)" in problem.message and problem.fixes == ["rename-dims"]


def test_bad_parameters_and_models_without_shared_placeholders_are_refused():
    with pytest.raises(WorkbenchError, match="No input dim is named 'height'") as caught:
        apply_fix(question_marks(), make_step("rename-dims", {"names": "height"}))
    assert "'?'" in caught.value.hint
    with pytest.raises(WorkbenchError, match="No placeholder dim name"):
        apply_fix(load_model(RECOGNIZER), make_step("rename-dims"))
    with pytest.raises(WorkbenchError, match="no names given"):
        make_step("rename-dims", {"names": ";"})


def test_steps_round_trip_through_the_cli_form_and_recipes():
    step = make_step("rename-dims", {"names": "?;unk__1"})
    assert step.spec() == "rename-dims:names=?;unk__1" and parse_spec(step.spec()) == step
    assert step_from_dict(step.to_dict()) == step and step.to_dict()["params"] == {"names": ["?", "unk__1"]}
    assert not FIXES["rename-dims"].needs_weights and not FIXES["rename-dims"].may_change_numerics
