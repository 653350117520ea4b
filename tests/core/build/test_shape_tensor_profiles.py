"""Shape-tensor inputs: found by the real TensorRT parser, given values in profiles, built for real."""

from __future__ import annotations

import json

from tests.build_models import reshape_by_shape_input
from tests.onnx_factory import conv_model, save
from tests.core.build.test_build import run_cli
from workbench.core.analysis.support import analyze_support, find_shape_tensor_inputs
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.model.loading import LoadedModel
from workbench.core.shapes.profiles import Profile, ShapeRange, validate_profiles, with_shape_tensor_values

X = ShapeRange((1, 64), (4, 64), (8, 64))
TARGET = ShapeRange((1, 64), (4, 64), (8, 64))


def test_the_parser_marks_the_reshape_target_as_a_shape_tensor(backend):
    model = LoadedModel.from_proto(reshape_by_shape_input())
    assert find_shape_tensor_inputs(model, backend) == ["target_shape"]
    assert analyze_support(model, backend).shape_tensor_inputs == ["target_shape"]
    assert find_shape_tensor_inputs(LoadedModel.from_proto(conv_model()), backend) == []


def test_a_build_with_values_succeeds_and_reports_them(backend, tmp_path):
    model = LoadedModel.from_proto(reshape_by_shape_input())
    profile = Profile({"x": X}, {"target_shape": TARGET})
    result = build_engine(model, BuildSettings(), [profile], tmp_path / "r.engine", backend=backend)
    assert result.succeeded, result.problems
    target = next(t for t in result.inputs if t.name == "target_shape")
    assert target.shape_tensor and target.profile_shapes == [TARGET.to_dict()]


def test_a_build_without_values_names_the_shape_tensor(backend, tmp_path):
    model = LoadedModel.from_proto(reshape_by_shape_input())
    result = build_engine(model, BuildSettings(), [Profile({"x": X})], tmp_path / "r.engine", backend=backend)
    assert not result.succeeded
    [problem] = result.problems
    assert (problem.kind, problem.inputs) == ("missing-shape-values", ["target_shape"])
    assert "'target_shape' is a shape tensor" in problem.message and "Profiles panel" in problem.hint
    assert list(tmp_path.iterdir()) == []


def test_validation_asks_for_values_of_each_shape_tensor():
    inputs = LoadedModel.from_proto(reshape_by_shape_input()).summary().inputs
    [missing] = validate_profiles([Profile({"x": X})], inputs, ["target_shape"])
    assert missing.values and missing.input == "target_shape" and "gives no values" in missing.message
    # Reshape's -1 ("infer this dimension") is a valid value
    assert validate_profiles([Profile({"x": X}, {"target_shape": ShapeRange.fixed((-1, 64))})], inputs,
                             ["target_shape"]) == []
    [short] = validate_profiles([Profile({"x": X}, {"target_shape": ShapeRange((1,), (4, 64), (8, 64))})], inputs)
    assert (short.which, short.values) == ("min", True) and "has 1 values, the model's input needs 2" in short.message


def test_shape_entries_for_shape_tensors_become_values():
    [routed] = with_shape_tensor_values([Profile({"x": X, "target_shape": TARGET})], ["target_shape"])
    assert routed == Profile({"x": X}, {"target_shape": TARGET})


def test_cli_build_takes_shape_tensor_values_in_the_shape_options(tmp_path):
    path = save(reshape_by_shape_input(), tmp_path / "reshape.onnx")
    engine = tmp_path / "reshape.engine"
    done = run_cli("build", path, "-o", engine, "--min-shapes", "x:1x64,target_shape:1x64",
                   "--opt-shapes", "x:4x64,target_shape:4x64", "--max-shapes", "x:8x64,target_shape:8x64",
                   "--save-recipe", tmp_path / "r.toml", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["succeeded"] and engine.is_file()
    assert "--maxShapes=x:8x64,target_shape:8x64" in data["commands"]["trtexec"]
    assert "target_shape:[8,64]" in data["commands"]["polygraphy"]
    assert "[profiles.values.target_shape]" in (tmp_path / "r.toml").read_text()
