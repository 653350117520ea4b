"""Real engine builds with the installed TensorRT (TensorRT-RTX builds on CPU), through the build child."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from tests.build_models import deep_cnn
from tests.conftest import run_cli
from tests.onnx_factory import conv_model
from workbench.core.build.engine import COMMAND_FLAGS, BuildHistory, BuildSettings, build_engine
from workbench.core.build.child import ABORT_SWITCH
from workbench.core.build.commands import reproduction_commands
from workbench.core.build.builder_errors import map_builder_errors
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.progress import Cancelled, CancelToken
from workbench.core.recipe import Recipe, load_recipe, save_recipe

CNN_PROFILE = Profile({"images": ShapeRange((1, 3, 64, 64), (4, 3, 64, 64), (8, 3, 64, 64))})


def only_files(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_dynamic_cnn_builds_with_a_profile_and_reports_its_io(backend, samples, tmp_path):
    phases = []
    result = build_engine(load_model(samples / "clean_cnn.onnx"), BuildSettings(), [CNN_PROFILE],
                          tmp_path / "cnn.engine", backend=backend, progress=lambda p, f=None: phases.append(p))
    assert result.succeeded, result.problems
    assert only_files(tmp_path) == ["cnn.engine"]
    assert (tmp_path / "cnn.engine").stat().st_size == result.engine_bytes > 0
    [images] = result.inputs
    assert (images.name, images.shape) == ("images", [-1, 3, 64, 64])
    assert images.profile_shapes == [CNN_PROFILE.shapes["images"].to_dict()]
    assert [(t.name, t.shape) for t in result.outputs] == [("logits", [-1, 10])]
    assert "Building engine" in phases  # the builder's own phase names reach the caller


def test_exported_style_cnn_with_two_profiles_and_detailed_layers(backend, tmp_path):
    model = LoadedModel.from_proto(conv_model(channels=8, size=16))
    small = Profile({"x": ShapeRange((1, 3, 16, 16), (1, 3, 16, 16), (2, 3, 16, 16))})
    large = Profile({"x": ShapeRange((4, 3, 16, 16), (8, 3, 16, 16), (16, 3, 16, 16))})
    result = build_engine(model, BuildSettings(detailed_profiling=True), [small, large], tmp_path / "conv.engine",
                          backend=backend)
    assert result.succeeded, result.problems
    assert [r["max"] for r in result.inputs[0].profile_shapes] == [[2, 3, 16, 16], [16, 3, 16, 16]]
    assert result.layers and "builder's log" in result.layer_source


def test_fp16_converts_the_model_and_keeps_float32_io(backend, samples, tmp_path):
    result = build_engine(load_model(samples / "uint8_resize.onnx"), BuildSettings(precision="fp16"), [],
                          tmp_path / "u8.engine", backend=backend)
    assert result.succeeded, result.problems
    assert [(t.name, t.dtype) for t in result.inputs] == [("image", "uint8")]
    assert [(t.name, t.dtype) for t in result.outputs] == [("features", "float")]


def test_dynamic_model_without_profile_points_at_the_profile_editor(backend, samples, tmp_path):
    result = build_engine(load_model(samples / "clean_cnn.onnx"), BuildSettings(), [], tmp_path / "x.engine",
                          backend=backend)
    assert not result.succeeded
    [problem] = result.problems
    assert (problem.stage, problem.kind, problem.inputs) == ("build", "no-profile", ["images"])
    assert "Profiles panel" in problem.hint
    assert only_files(tmp_path) == []


def test_cli_build_without_a_profile_uses_the_suggested_one_and_says_so_first(samples, tmp_path):
    built = run_cli("build", samples / "clean_cnn.onnx", "-o", tmp_path / "x.engine")
    assert built.returncode == 0, built.stdout + built.stderr
    first = built.stdout.splitlines()[0]
    assert first.startswith("No profile given: building with the suggested profile") and "batch-like" in first
    assert (tmp_path / "x.engine").is_file()


def test_builder_failure_is_mapped_to_the_onnx_node(rtx_backend, samples):
    result = build_engine(load_model(samples / "nms_detector.onnx"), BuildSettings(), [], backend=rtx_backend)
    [problem] = result.problems
    assert (problem.kind, problem.node, problem.op) == ("builder-error", "nms", "NonMaxSuppression")
    assert "nms_2 has no runners" in problem.detail


def test_parser_failure_during_a_build_names_the_nested_node(backend, samples):
    result = build_engine(load_model(samples / "if_scalar.onnx"), BuildSettings(), [], backend=backend)
    [problem] = result.problems
    assert (problem.kind, problem.node, problem.parent) == ("parser-error", "down/resize", "choose_resolution")


def test_too_small_workspace_is_mapped_to_the_setting(backend, samples):
    result = build_engine(load_model(samples / "clean_cnn.onnx"), BuildSettings(workspace_mb=1), [CNN_PROFILE],
                          backend=backend)
    assert not result.succeeded
    assert result.problems[0].kind == "workspace-too-small"
    assert "1 MiB" in result.problems[0].message and "workspace" in result.problems[0].hint


def test_out_of_memory_text_suggests_smaller_workspace_or_profile(samples):
    text = "[resources.cpp::allocate::30] Error Code 2: OutOfMemory (Requested size was 17179869184 bytes.)"
    [problem] = map_builder_errors([text], load_model(samples / "clean_cnn.onnx"))
    assert problem.kind == "out-of-memory" and "smaller workspace" in problem.hint


def test_cancel_stops_the_build_and_leaves_no_engine_file(backend, tmp_path):
    model = LoadedModel.from_proto(deep_cnn(300))
    profile = Profile({"x": ShapeRange((1, 3, 32, 32), (4, 3, 32, 32), (8, 3, 32, 32))})
    token = CancelToken()

    def cancel_once_building(phase, _fraction=None):
        if phase == "Building engine":
            token.cancel()

    with pytest.raises(Cancelled) as caught:
        build_engine(model, BuildSettings(), [profile], tmp_path / "deep.engine", backend=backend,
                     progress=cancel_once_building, cancel=token)
    assert caught.value.message == "The build was cancelled."
    assert only_files(tmp_path) == []


def test_a_crashing_builder_becomes_an_error_not_a_dead_app(backend, samples, tmp_path, monkeypatch):
    monkeypatch.setenv(ABORT_SWITCH, "1")
    with pytest.raises(WorkbenchError) as caught:
        build_engine(load_model(samples / "clean_cnn.onnx"), BuildSettings(), [CNN_PROFILE], tmp_path / "c.engine",
                     backend=backend)
    assert "The TensorRT builder crashed" in caught.value.message and "SIGABRT" in caught.value.message
    assert "unaffected" in caught.value.hint
    assert only_files(tmp_path) == []
    monkeypatch.delenv(ABORT_SWITCH)
    assert build_engine(load_model(samples / "clean_cnn.onnx"), BuildSettings(), [CNN_PROFILE],
                        backend=backend).succeeded  # the next build runs in a fresh child


def test_settings_the_backend_lacks_are_refused_with_the_reason(backend, samples):
    unavailable = backend.unavailable_build_options()
    name, reason = next((k, v) for k, v in unavailable.items() if k.startswith("precision:"))
    with pytest.raises(WorkbenchError) as caught:
        build_engine(load_model(samples / "groupnorm.onnx"), BuildSettings(precision=name.split(":")[1]), [],
                     backend=backend)
    assert reason in caught.value.message


def test_engine_is_never_written_over_the_model(backend, samples, tmp_path):
    model_path = tmp_path / "m.onnx"
    model_path.write_bytes((samples / "groupnorm.onnx").read_bytes())
    with pytest.raises(WorkbenchError, match="over the ONNX model"):
        build_engine(load_model(model_path), BuildSettings(), [], model_path, backend=backend)
    assert model_path.read_bytes() == (samples / "groupnorm.onnx").read_bytes()


def test_settings_round_trip_through_a_recipe_file(tmp_path):
    settings = BuildSettings(precision="fp16", workspace_mb=512, optimization_level=2, compute_capabilities=["SM86"])
    path = save_recipe(Recipe(build=settings.to_dict()), tmp_path / "r.toml")
    assert BuildSettings.from_dict(load_recipe(path).build) == settings
    with pytest.raises(WorkbenchError, match="Unknown build setting"):
        BuildSettings.from_dict({"precison": "fp16"})


def test_trtexec_and_polygraphy_commands_carry_the_profile_shapes(backend):
    second = Profile({"images": ShapeRange((16, 3, 64, 64), (16, 3, 64, 64), (32, 3, 64, 64))})
    commands = reproduction_commands("m.onnx", "m.engine", BuildSettings(workspace_mb=256, optimization_level=4),
                                     [CNN_PROFILE, second], backend)
    trtexec = commands["trtexec"]
    assert "--minShapes=images:1x3x64x64" in trtexec and "--optShapes=images:4x3x64x64" in trtexec
    assert "--maxShapes=images:32x3x64x64" in trtexec  # the second profile repeats the flags
    assert "--memPoolSize=workspace:256M" in trtexec and "--builderOptimizationLevel=4" in trtexec
    assert "--trt-max-shapes 'images:[8,3,64,64]'" in commands["polygraphy"]


def test_every_build_setting_reaches_the_reproduction_commands(backend):
    # precision and precision_by_flag decide, with the backend, between a flag and a converted model
    assert set(COMMAND_FLAGS) | {"precision", "precision_by_flag"} == {f.name for f in fields(BuildSettings)}
    settings = BuildSettings(workspace_mb=64, optimization_level=2, timing_cache="t.cache", plugins=["p.so"],
                             hardware_compatibility="ampere_plus", version_compatible=True,
                             compute_capabilities=["SM86", "SM89"], detailed_profiling=True)
    commands = reproduction_commands("m.onnx", "m.engine", settings, [], backend)
    trtexec, polygraphy = commands["trtexec"].split(), commands["polygraphy"].split()
    for flag in ("--memPoolSize=workspace:64M", "--builderOptimizationLevel=2", "--timingCacheFile=t.cache",
                 "--dynamicPlugins=p.so", "--hardwareCompatibilityLevel=ampere+", "--versionCompatible",
                 "--computeCapabilities=86,89", "--profilingVerbosity=detailed"):
        assert flag in trtexec
    assert "--useGpu" not in trtexec
    for flag in ("--pool-limit", "workspace:64M", "--builder-optimization-level", "--timing-cache",
                 "--load-timing-cache", "--plugins", "--hardware-compatibility-level", "ampere_plus",
                 "--version-compatible", "--profiling-verbosity"):
        assert flag in polygraphy
    plain = reproduction_commands("m.onnx", "m.engine", BuildSettings(), [], backend)["trtexec"].split()
    assert plain[-1] == "--skipInference" and not any(arg.startswith("--memPoolSize") for arg in plain)


def test_history_lists_what_changed_between_builds(backend, samples):
    history = BuildHistory()
    model = load_model(samples / "groupnorm.onnx")
    for settings in (BuildSettings(), BuildSettings(optimization_level=1)):
        history.add(build_engine(model, settings, [], backend=backend))
    rows = history.rows()
    assert [r["ok"] for r in rows] == [True, True]
    assert rows[0]["changed"] == "(first build)" and rows[1]["changed"] == "optimization_level"


def test_cli_build_with_shapes_and_json(samples, tmp_path):
    engine = tmp_path / "cli.engine"
    done = run_cli("build", samples / "clean_cnn.onnx", "-o", engine, "--opt-shapes", "images:4x3x64x64",
                   "--max-shapes", "images:8x3x64x64", "--save-recipe", tmp_path / "r.toml", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["succeeded"] and data["engine_path"] == str(engine) and engine.is_file()
    assert "--maxShapes=images:8x3x64x64" in data["commands"]["trtexec"]
    # the saved recipe replays the same build
    replayed = run_cli("build", samples / "clean_cnn.onnx", "-o", tmp_path / "again.engine", "--recipe",
                       tmp_path / "r.toml")
    assert replayed.returncode == 0, replayed.stderr
    assert "profile 1 shapes: min [4, 3, 64, 64]  opt [4, 3, 64, 64]  max [8, 3, 64, 64]" in replayed.stdout


def test_cli_build_reports_mapped_problems_and_bad_input(samples, tmp_path):
    failed = run_cli("build", samples / "clean_cnn.onnx", "-o", tmp_path / "x.engine", "--strict-shapes")
    assert failed.returncode == 1
    assert "build/no-profile [inputs: images]" in failed.stdout
    refused = run_cli("build", samples / "clean_cnn.onnx", "-o", tmp_path / "x.engine", "--opt-shapes",
                      "imgs:4x3x64x64")
    assert refused.returncode == 2
    assert "names input 'imgs', which the model does not have" in refused.stderr
    assert only_files(tmp_path) == []
