"""Trial build with the real TensorRT-RTX builder: builder refusals become build-stage problems."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES
from workbench.cli import main
from workbench.core.model.loading import load_model
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.build.trial import trial_build


def test_a_model_the_parser_accepts_and_the_builder_rejects_gets_a_build_problem_on_its_node(rtx_backend):
    trial = trial_build(load_model(SAMPLES / "nms_detector.onnx"), backend=rtx_backend)
    assert not trial.succeeded
    problems = trial.triage_problems()
    assert problems and all(p.stage == "build" for p in problems)
    refused = [p for p in problems if p.kind == "builder-error"]
    assert refused[0].node == "nms" and refused[0].op == "NonMaxSuppression"
    assert "no runners" in refused[0].detail


def test_dynamic_inputs_are_built_with_stated_assumed_shapes(backend):
    trial = trial_build(load_model(SAMPLES / "clean_cnn.onnx"), backend=backend)
    assert trial.succeeded
    assert trial.profiles[0].shapes["images"].opt == (1, 3, 64, 64)
    assert len(trial.assumed) == 1 and trial.assumed[0].startswith("batch = 1 (convention: batch-like")
    note = trial.triage_problems()[0]
    assert (note.severity, note.stage, note.inputs) == ("info", "build", ["images"])
    assert "images 1x3x64x64" in note.message


def test_the_users_profile_is_used_when_it_fits(backend):
    mine = Profile({"images": ShapeRange((1, 3, 64, 64), (4, 3, 64, 64), (8, 3, 64, 64))})
    trial = trial_build(load_model(SAMPLES / "clean_cnn.onnx"), [mine], backend=backend)
    assert trial.succeeded and trial.assumed == [] and trial.profiles == [mine]
    assert trial.result.inputs[0].profile_shapes[0]["max"] == [8, 3, 64, 64]


def test_a_profile_that_is_the_tools_own_guess_is_still_stated_as_assumed(backend):
    """The Profiles panel fills in the shape service's guess; a trial build with it says it was a guess."""
    from workbench.core.shapes.suggest import suggest_shapes

    model = load_model(SAMPLES / "clean_cnn.onnx")
    guess = suggest_shapes(model, probe=False).profile()
    trial = trial_build(model, [guess], backend=backend)
    assert trial.succeeded and trial.profiles == [guess]
    assert len(trial.assumed) == 1 and trial.assumed[0].startswith("batch = 1 (convention: batch-like")
    assert any(p.kind == "trial-build-shapes" for p in trial.triage_problems())


def test_parser_errors_are_left_to_the_parse_stage(backend):
    trial = trial_build(load_model(SAMPLES / "if_scalar.onnx"), backend=backend)
    assert not trial.succeeded and trial.stopped_at_parser
    assert not [p for p in trial.triage_problems() if p.kind == "parser-error"]


def test_cli_analyze_build_marks_each_problems_stage(capsys):
    code = main(["analyze", str(SAMPLES / "nms_detector.onnx"), "--build", "--json", "--backend", "tensorrt-rtx"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    stages = {p["stage"] for p in data["problems"]}
    assert "build" in stages and stages <= {"parse", "build", "model"}
    assert data["trial_build"]["succeeded"] is False
    assert any(p["stage"] == "build" and p["node"] == "nms" for p in data["problems"])


def test_cli_analyze_without_build_runs_no_builder(capsys):
    main(["analyze", str(SAMPLES / "nms_detector.onnx"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert "trial_build" not in data
    assert all(p["stage"] != "build" or p["kind"] == "nms" for p in data["problems"])


def test_a_builder_failure_that_names_no_node_says_what_to_try(backend):
    """TensorRT-RTX 1.7 refuses Optimum's merged Whisper decoder with its prefill and decode profiles together
    (a Myelin assertion naming no ONNX node): the problem still says what to try."""
    from tests.conftest import ROOT
    from workbench.core.shapes.suggest import suggest_shapes

    model = load_model(ROOT / "tests" / "corpus" / "whisper_optimum" / "decoder_model_merged.onnx")
    trial = trial_build(model, suggest_shapes(model).profiles(), backend=backend, suggest=False)
    assert not trial.succeeded
    [problem] = [p for p in trial.problems if p.kind == "builder-error"]
    assert not problem.node and "narrower profile" in problem.hint and "Split for TensorRT" in problem.hint
