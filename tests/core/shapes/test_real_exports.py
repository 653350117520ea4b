"""The shape service, trial builds, repair and comparisons on real exports (tests/corpus).

What each model must give follows from its architecture (tests/corpus/catalog.py), not from what
the tools answered: a recognizer whose LSTM takes 3 × 32 features runs only at H = 48, a U-Net with
five stride-2 stages needs multiples of 32, a TorchScript export traced at seq = 64 runs only there.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.corpus.catalog import CATALOG
from tests.corpus.perturb import perturbed_copy
from tests.conftest import CORPUS, ROOT, corpus_model
from workbench.core.compare.comparison import CompareSettings, run_comparison
from workbench.core.model.loading import load_model
from workbench.core.repair import REPAIRED, repair_model
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.shapes.dims import ShapeSource
from workbench.core.shapes.profile_check import probe_profiles
from workbench.core.shapes.suggest import suggest_shapes, suggested_feeds
from workbench.core.build.trial import trial_build

pytestmark = pytest.mark.slow

# Decoders with a KV cache run at sequence 1 and past 0 by design: their profiles are tested in test_workloads.py.
DYNAMIC = [name for name, entry in CATALOG.items() if entry["family"] != "decoder-kv-cache"
           and any(isinstance(d, str) for dims in entry["inputs"].values() for d in dims)]
# The builder takes these whole (NonZero in post-processing has no TensorRT-RTX importer; a float input that is a
# shape tensor must be frozen first).
BUILDABLE = [name for name in DYNAMIC
             if not {"post_processing", "float_shape_tensor"} & set(CATALOG[name].get("facts", {}))]

# What the shape service does not get right yet on the vision exports (tests/corpus/catalog_vision.py):
# strict, so each case must be taken off here when the service learns it.
KNOWN_GAPS = {
    ("test_trial_build_reports_no_builder_error_at_realistic_shapes", "text_classifier_p2o.onnx"):
        "batch, H and W are all named '?': TensorRT takes them as equal, the dims must be renamed first",
}


def _cases(test: str, names: list[str]) -> list:
    return [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[test, name]))
            if (test, name) in KNOWN_GAPS else name for name in names]


def _facts(name: str) -> dict:
    return CATALOG[name].get("facts", {})


@pytest.fixture(scope="module")
def suggestions():
    return {name: suggest_shapes(corpus_model(name)) for name in DYNAMIC}


@pytest.mark.parametrize("name", DYNAMIC)
def test_no_dynamic_dim_is_silently_one_and_every_value_has_a_reason(name, suggestions):
    suggestion = suggestions[name]
    batch_like = _facts(name).get("batch_like", {})
    typical = _facts(name).get("typical", {})
    for dim in suggestion.dims:
        assert dim.resolved, dim.text()
        assert dim.reason and dim.source is not ShapeSource.UNRESOLVED
        is_batch = any(batch_like.get(input_name) == axis for input_name, axis in dim.uses)
        typically_one = any(typical.get(input_name, {}).get(axis) == 1 for input_name, axis in dim.uses)
        if is_batch:
            assert (dim.min, dim.opt, dim.max) == (1, 1, 1) and "batch" in dim.reason
        elif typically_one:  # SAM's one-point prompt
            assert dim.opt == 1, dim.text()
        else:
            assert dim.opt > 1 and dim.min > 1, f"{name}: {dim.text()}"


@pytest.mark.parametrize("name", _cases("test_suggested_shapes_follow_the_architecture", DYNAMIC))
def test_suggested_shapes_follow_the_architecture(name, suggestions):
    suggestion, facts = suggestions[name], _facts(name)
    shapes = suggestion.shapes()
    for key in ("fixed", "runs_only_at"):
        for input_name, axes in facts.get(key, {}).items():
            for axis, value in axes.items():
                assert shapes[input_name][axis] == value, suggestion.dim_for(input_name, axis).text()
    for input_name, axes in facts.get("multiple_of", {}).items():
        for axis, multiple in axes.items():
            dim = suggestion.dim_for(input_name, axis)
            assert all(v % multiple == 0 for v in (dim.min, dim.opt, dim.max)), dim.text()
    for input_name, axes in facts.get("min", {}).items():
        for axis, low in axes.items():
            assert suggestion.dim_for(input_name, axis).min >= low


@pytest.mark.parametrize("name", _cases("test_onnxruntime_runs_at_the_suggested_min_opt_and_max", DYNAMIC))
def test_onnxruntime_runs_at_the_suggested_min_opt_and_max(name, suggestions):
    model = corpus_model(name)
    suggestion = suggestions[name]
    assert all(check.ok for check in probe_profiles(model, [suggestion.profile()])), name
    outputs = OnnxruntimeRunner(model).run(suggested_feeds(model, suggestion=suggestion))
    assert any(np.ptp(a) > 0 for a in outputs.values() if a.size > 1 and a.dtype.kind == "f")


def test_a_size_baked_in_at_export_is_a_problem_naming_the_node(suggestions):
    name = "transformer_ts_seq64.onnx"
    baked = _facts(name)["baked_reshape"]
    problems = [p for p in suggestions[name].problems() if p.kind == "baked-shape"]
    assert len(problems) == 1
    assert problems[0].node == baked["node"] and "seq = 64" in problems[0].message
    assert "requested shape:{64,8,32}" in problems[0].message  # what the Reshape asked for
    model = corpus_model(name)
    from workbench.core.shapes.profiles import Profile, ShapeRange

    wide = Profile({"tokens": ShapeRange((1, 16, 256), (1, 64, 256), (1, 128, 256))})
    [check] = probe_profiles(model, [wide])
    assert not check.ok and check.node == baked["node"]


def test_switch_inputs_get_the_models_own_value(suggestions):
    switch = _facts("audio_switch_ts.onnx")["switch"]
    value = suggestions["audio_switch_ts.onnx"].values[switch["input"]]
    assert int(value.value) == switch["compared_with"] and "threshold" in value.reason


@pytest.mark.parametrize("name", _cases("test_trial_build_reports_no_builder_error_at_realistic_shapes", BUILDABLE))
def test_trial_build_reports_no_builder_error_at_realistic_shapes(name, backend):
    trial = trial_build(corpus_model(name), backend=backend)
    errors = [p for p in trial.triage_problems() if p.severity == "error"]
    assert trial.succeeded and not errors, [p.message for p in errors]
    assert trial.assumed and all("= 1 (" not in a or "batch" in a for a in trial.assumed)


def test_repair_of_a_recognizer_is_a_realistic_profile_and_no_graph_change(backend):
    result = repair_model(corpus_model("text_recognizer_p2o.onnx"), backend=backend)
    assert result.status == REPAIRED and not result.fix_results
    [shapes] = [r for r in result.profiles[0].shapes.values()]
    assert shapes.opt[2] == 48 and shapes.min[2] == shapes.max[2] == 48
    assert shapes.opt[3] >= 32 and shapes.min[3] > 1


def test_repair_of_a_detector_cuts_before_its_post_processing(backend):
    facts = _facts("detector_nms_ts.onnx")
    result = repair_model(corpus_model("detector_nms_ts.onnx"), backend=backend)
    assert result.status == REPAIRED and result.trial.succeeded
    [cut] = [r.step for r in result.fix_results if r.step.name == "cut-outputs"]
    kept_ops = {n.op_type for n in result.model.proto.graph.node}
    assert not kept_ops & set(facts["post_processing"]) - {"Gather"}
    # The engine keeps the raw head outputs' information: their consumers up to post-processing.
    assert len(cut.param_dict["tensors"]) <= 4
    profile = result.profiles[0].shapes["image"]
    assert profile.opt[2] > 1 and profile.opt[3] > 1
    assert result.parity is not None and result.parity.verdict == "exact"


def test_compare_catches_a_planted_perturbation_without_being_given_shapes(tmp_path):
    source = CORPUS / "text_detector_p2o.onnx"
    perturbed = tmp_path / "perturbed.onnx"
    perturbed_copy(source, perturbed, scale=1.3)
    result = run_comparison(load_model(source), CompareSettings(against_model=str(perturbed)))
    assert not result.passed
    assert result.inputs[0]["shape"][2] > 1 and "probe" in result.inputs[0]["source"]
    command = [sys.executable, "-m", "workbench.cli", "compare", str(source), "--against", str(perturbed), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["passed"] is False


def test_analyze_build_cli_lists_the_suggested_shapes_with_reasons():
    command = [sys.executable, "-m", "workbench.cli", "analyze", str(CORPUS / "text_recognizer_p2o.onnx"),
               "--build", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    report = json.loads(done.stdout)
    dims = {d["label"]: d for d in report["trial_build"]["shapes"]["dims"]}
    assert dims["p2o.DynamicDimension.1"]["opt"] == 48 and dims["p2o.DynamicDimension.1"]["reason"]
    assert report["trial_build"]["succeeded"]
    assert not [p for p in report["problems"] if p["stage"] == "build" and p["severity"] == "error"]
