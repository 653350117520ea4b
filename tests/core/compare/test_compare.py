"""ORT vs ORT on models that really differ (float16 copy, planted perturbation), bisect, timing, settings."""

import json

import numpy as np
import onnx
import pytest

from tests.compare_models import chain_model, classifier_model, perturbed, tiny_output_copy
from tests.conftest import ROOT
from tests.corpus.perturb import perturbed_copy
from workbench.cli import EXIT_PROBLEMS, main
from workbench.core.compare.comparison import (CompareSettings, bisect_models, compare_runners, run_comparison)
from workbench.core.errors import WorkbenchError
from workbench.core.compare.inputs import InputSpec, make_inputs
from workbench.core.compare.metrics import Tolerances, Verdict
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.progress import Cancelled, CancelToken
from workbench.core.recipe import Recipe, load_recipe, save_recipe
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.precision.conversion import convert_model


@pytest.fixture(scope="module")
def chain():
    return chain_model(12)


def test_same_model_passes(chain):
    model = LoadedModel.from_proto(chain)
    result = run_comparison(model, CompareSettings(), against=LoadedModel.from_proto(chain))
    assert result.passed and result.verdict.startswith("PASS")
    assert result.outputs[0].max_abs == 0 and result.inputs[0]["source"] == "random (seed 0)"


def test_float16_copy_is_caught_and_bisect_points_at_the_first_node(chain):
    model = LoadedModel.from_proto(chain)
    half = convert_model(LoadedModel.from_proto(chain), "fp16")
    result = run_comparison(model, CompareSettings(bisect=True), against=half)
    assert not result.passed and result.verdict.startswith("FAIL")
    output = result.outputs[0]
    assert 1e-5 < output.max_abs < 1e-2 and output.cosine > 0.999
    assert result.bisect.node == "mul_0" and result.bisect.node_index == 0
    loose = run_comparison(model, CompareSettings(tolerances=Tolerances(atol=1e-2, rtol=1e-2)), against=half)
    assert loose.passed


def test_float16_inputs_are_cast_for_the_side_that_takes_them(chain):
    model = LoadedModel.from_proto(chain)
    half = convert_model(LoadedModel.from_proto(chain), "fp16", keep_io_types=False)
    result = run_comparison(model, CompareSettings(tolerances=Tolerances(atol=1e-2, rtol=1e-2)), against=half)
    assert any("cast from float32 to float16" in note for note in result.notes)
    assert result.outputs[0].dtype == "float16" and result.passed


def test_planted_perturbation_is_found_all_at_once_and_by_bisection(chain):
    model = LoadedModel.from_proto(chain)
    changed = LoadedModel.from_proto(perturbed(chain, "scale_7", 1.01))
    feeds = make_inputs(model).arrays
    at_once = bisect_models(model, changed, feeds)
    assert (at_once.node, at_once.op, at_once.tensor) == ("mul_7", "Mul", "m7")
    assert at_once.runs == 1 and at_once.checked == at_once.candidates == 25
    assert "mul_7" in at_once.message and not at_once.comparison.passed
    searched = bisect_models(model, changed, feeds, all_at_once_limit=4)
    assert searched.node == "mul_7" and searched.runs > 1 and searched.checked < searched.candidates


def test_bisect_reports_no_divergence_and_no_common_tensors(chain):
    model = LoadedModel.from_proto(chain)
    feeds = make_inputs(model).arrays
    same = bisect_models(model, LoadedModel.from_proto(chain), feeds)
    assert not same.found and "No intermediate tensor fails" in same.message
    other = LoadedModel.from_proto(classifier_model())
    assert "share no intermediate tensor names" in bisect_models(model, other, feeds).message


def test_comparison_without_bisect_request_on_pass_says_so(chain):
    model = LoadedModel.from_proto(chain)
    result = run_comparison(model, CompareSettings(bisect=True), against=LoadedModel.from_proto(chain))
    assert result.bisect is None and "No bisect" in result.notes[0]


def test_missing_output_fails_with_a_note():
    full = classifier_model()
    fewer = classifier_model()
    del fewer.graph.output[1]
    result = run_comparison(LoadedModel.from_proto(full), CompareSettings(), InputSpec(shapes={"x": [3, 16]}),
                            against=LoadedModel.from_proto(fewer))
    assert not result.passed and result.missing_outputs == ["probs"]
    assert "probs (missing)" in result.reason and any("no output(s) named probs" in n for n in result.notes)
    assert result.outputs[0].top_k == 5 and result.outputs[0].top1_agreement == 1.0


def test_timing_for_both_sides_is_ordered_and_counted(chain):
    model = LoadedModel.from_proto(chain)
    result = run_comparison(model, CompareSettings(timing_runs=12, warmup=2), against=LoadedModel.from_proto(chain))
    assert [t.runs for t in result.timing] == [12, 12]
    for timing in result.timing:
        assert 0 < timing.min_ms <= timing.median_ms <= timing.p90_ms <= timing.p99_ms
        assert timing.batch == 2 and timing.samples_per_s == pytest.approx(2 * timing.inferences_per_s)


def test_cancel_stops_the_comparison(chain):
    model = LoadedModel.from_proto(chain)
    token = CancelToken()
    token.cancel()
    runner = OnnxruntimeRunner(model)
    with pytest.raises(Cancelled):
        compare_runners(runner, runner, make_inputs(model).arrays, cancel=token)


def test_missing_targets_and_inputs_get_clear_errors(chain, tmp_path):
    model = LoadedModel.from_proto(chain)
    with pytest.raises(WorkbenchError, match="No second model"):
        run_comparison(model, CompareSettings())
    with pytest.raises(WorkbenchError, match="No engine file chosen"):
        run_comparison(model, CompareSettings(against="engine"))
    runner = OnnxruntimeRunner(model)
    with pytest.raises(WorkbenchError, match="needs input\\(s\\) the data does not have: x"):
        compare_runners(runner, runner, {"other": np.zeros(1)})


def test_settings_round_trip_through_the_recipe(tmp_path):
    settings = CompareSettings(against="engine", engine_path="/models/m.engine", tolerances=Tolerances(1e-3, 1e-3),
                               top_k=3, profile_index=1, timing_runs=20, warmup=2, bisect=True)
    save_recipe(Recipe(compare=settings.to_dict()), tmp_path / "r.toml")
    assert CompareSettings.from_dict(load_recipe(tmp_path / "r.toml").compare) == settings
    with pytest.raises(WorkbenchError, match="against = 'gpu'"):
        CompareSettings.from_dict({"against": "gpu"})


# --- the judgement on a real CNN (the bundled clean_cnn sample under onnxruntime) ---------------

@pytest.fixture(scope="module")
def cnn(samples):
    return onnx.load(samples / "clean_cnn.onnx")


BATCH_OF_FOUR = InputSpec(shapes={"images": [4, 3, 64, 64]})


def _compare(reference: onnx.ModelProto, test: onnx.ModelProto):
    return run_comparison(LoadedModel.from_proto(reference), CompareSettings(), BATCH_OF_FOUR,
                          against=LoadedModel.from_proto(test))


def test_cnn_with_a_weight_scaled_by_1_3_fails(cnn):
    result = _compare(cnn, perturbed(cnn, "conv2.weight", 1.3))
    assert result.verdict is Verdict.FAIL and not result.passed
    assert result.outputs[0].reason.startswith("40 of 40 element(s) (100.00%) outside atol")
    assert result.summary.startswith("FAIL: 1 of 1 output(s) fail: logits (40 of 40")


def test_cnn_with_outputs_near_1e_9_is_never_a_plain_pass(cnn):
    tiny = tiny_output_copy(cnn, ("fc.weight", "fc.bias"))
    broken = _compare(tiny, perturbed(tiny, "conv2.weight", 1.3))
    output = broken.outputs[0]
    assert output.within_tolerance and output.max_abs_ref < 1e-9  # Polygraphy's rule alone would pass it
    assert broken.verdict is Verdict.FAIL and output.reason.startswith("cosine 0.99")
    assert "below 10 × atol" in output.reason
    nudged = _compare(tiny, perturbed(tiny, "fc.weight", 1.001))  # 0.1 %: agrees, but atol could not tell
    assert nudged.verdict is Verdict.CANNOT_JUDGE and not nudged.passed
    assert nudged.outputs[0].reason.startswith(f"the largest |value| is {nudged.outputs[0].max_abs_ref:.3g}")
    assert nudged.reason.startswith("1 of 1 output(s) the tolerance cannot judge: logits (the largest |value|")
    data = nudged.to_dict()
    assert (data["verdict"], data["passed"], data["outputs"][0]["verdict"]) == ("CANNOT_JUDGE", False, "CANNOT_JUDGE")
    assert data["reason"] == nudged.reason and data["outputs"][0]["reason"] == nudged.outputs[0].reason
    assert _compare(tiny, tiny).verdict is Verdict.PASS  # identical outputs need no tolerance


def test_bisect_runs_on_a_judgement_failure_and_finds_the_scaled_layer(cnn):
    tiny = tiny_output_copy(cnn, ("fc.weight", "fc.bias"))
    result = run_comparison(LoadedModel.from_proto(tiny), CompareSettings(bisect=True), BATCH_OF_FOUR,
                            against=LoadedModel.from_proto(perturbed(tiny, "conv2.weight", 1.3)))
    assert result.verdict is Verdict.FAIL and result.bisect.found
    assert result.bisect.tensor == "c2" and result.bisect.comparison.verdict is Verdict.FAIL


# --- a real export from the corpus: torchvision mobilenet_v3_small (TorchScript exporter) -------

CORPUS_CLASSIFIER = ROOT / "tests" / "corpus" / "classifier_ts.onnx"


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """The corpus classifier with its last Gemm scaled so the logits are ~1e-10, and perturbed copies."""
    folder = tmp_path_factory.mktemp("tiny_classifier")
    model = onnx.load(CORPUS_CLASSIFIER)
    last_gemm = [node for node in model.graph.node if node.op_type == "Gemm"][-1]
    onnx.save(tiny_output_copy(model, tuple(last_gemm.input[1:3])), folder / "tiny.onnx")
    perturbed_copy(folder / "tiny.onnx", folder / "perturbed.onnx", scale=1.3)
    nudged = perturbed(onnx.load(folder / "tiny.onnx"), last_gemm.input[1], 1.001)
    onnx.save(nudged, folder / "nudged.onnx")
    return folder


def test_real_classifier_with_tiny_logits_fails_against_a_perturbed_copy_without_given_shapes(tiny_classifier):
    tiny = load_model(tiny_classifier / "tiny.onnx")
    result = run_comparison(tiny, CompareSettings(against_model=str(tiny_classifier / "perturbed.onnx")))
    logits = result.outputs[0]
    assert result.inputs[0]["shape"] == [1, 3, 224, 224]  # the shape service's choice, not 1x3x1x1
    assert logits.within_tolerance and logits.max_abs_ref < 1e-9  # the element rule alone: PASS
    assert result.verdict is Verdict.FAIL and "cosine" in logits.reason and "top-1 agreement 0%" in logits.reason
    nudged = run_comparison(tiny, CompareSettings(against_model=str(tiny_classifier / "nudged.onnx")))
    assert nudged.verdict is Verdict.CANNOT_JUDGE and "below 10 × atol" in nudged.outputs[0].reason


def test_cli_on_the_real_classifier_exits_1_with_the_reason_in_json(tiny_classifier, capsys):
    code = main(["compare", str(tiny_classifier / "tiny.onnx"), "--against", str(tiny_classifier / "perturbed.onnx"),
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_PROBLEMS and data["verdict"] == "FAIL" and data["outputs"][0]["outside_fraction"] == 0
    assert data["reason"].startswith("1 of 1 output(s) fail: logits (cosine")


def test_real_classifier_in_float16_passes_at_float16_tolerances():
    model = onnx.load(CORPUS_CLASSIFIER)
    half = convert_model(LoadedModel.from_proto(model), "fp16")
    result = run_comparison(LoadedModel.from_proto(model), CompareSettings(tolerances=Tolerances(1e-3, 1e-3)),
                            against=half)
    logits = result.outputs[0]
    assert 0 < logits.max_abs < 1e-3 and logits.cosine > 0.99999  # float16 moved it, legitimately
    assert result.verdict is Verdict.PASS, result.reason


def test_a_difference_in_the_branch_the_deployment_value_does_not_take_is_caught(tmp_path):
    """if_cond_dynamo: mode is fed the model's own threshold (0, the else branch); a weight changed only in
    the then branch (mode > 0) must still fail the comparison, through the extra run beside the threshold."""
    model = load_model(ROOT / "tests" / "corpus" / "if_cond_dynamo.onnx")
    proto = model.full_proto()
    weight = next(t for t in proto.graph.initializer if t.name == "refine.0.weight")
    weight.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(weight) * 1.5, weight.name))
    changed = LoadedModel.from_proto(proto)
    result = run_comparison(model, CompareSettings(), against=changed)
    assert not result.passed
    main_outputs = [o for o in result.outputs if "[" not in o.name]
    other_branch = [o for o in result.outputs if "[mode=1]" in o.name]
    assert main_outputs and all(o.verdict is Verdict.PASS for o in main_outputs)  # the else branch is unchanged
    assert other_branch and all(o.verdict is Verdict.FAIL for o in other_branch)
    assert any("Also compared at mode=1" in note for note in result.notes)
    same = run_comparison(model, CompareSettings(), against=load_model(model.path))
    assert same.passed and any("[mode=1]" in o.name for o in same.outputs)


def test_a_cut_model_is_compared_at_its_kept_outputs_like_the_repair_parity(tmp_path):
    """Repair cuts a detector before its NonZero/NMS tail and reports parity at the raw outputs; comparing the
    original with the cut model matches those tensors by name instead of failing on the outputs the cut removed."""
    from tests.corpus.catalog import CATALOG
    from workbench.core.compare.parity import check_parity
    from workbench.core.fixes.apply import apply_fix, make_step
    from workbench.core.model.loading import load_model, save_model

    corpus = ROOT / "tests" / "corpus"
    original = load_model(corpus / "detector_nms_ts.onnx")
    raw = CATALOG["detector_nms_ts.onnx"]["facts"]["raw_outputs"]
    cut = apply_fix(original, make_step("cut-outputs", {"tensors": ";".join(raw)}))
    path = save_model(cut.after.proto, tmp_path / "cut.onnx", weights_dir=cut.after.weights_dir)
    parity = check_parity(original, cut.after)
    result = run_comparison(original, CompareSettings(against="model", against_model=str(path)))
    assert result.passed == (parity.verdict in ("exact", "within-tolerance"))
    assert sorted(o.name for o in result.outputs) == sorted(raw) and not result.missing_outputs
    assert any("cut by a fix" in note for note in result.notes)
