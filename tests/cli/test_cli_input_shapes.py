"""``convert`` and ``quantize`` take the input-data options ``compare`` takes (--shape, --recipe with --profile,
--inputs, --seed): the accuracy check and the calibration data run at those shapes, and say where they came from.

Real exports (paddle2onnx-style OCR recognizer, whose W is free) under real onnxruntime.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import ROOT
from workbench.cli import main
from workbench.core.recipe import Recipe, save_recipe
from workbench.core.shapes.profiles import Profile, ShapeRange, profiles_to_recipe

RECOGNIZER = ROOT / "tests" / "corpus" / "text_recognizer_p2o.onnx"  # x: [N, 3, H, W]; H = 48 for its LSTM


def run_json(capsys, *args) -> tuple[int, dict]:
    code = main([*map(str, args), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_convert_checks_accuracy_at_the_given_shape_instead_of_the_suggested_one(tmp_path, capsys):
    code, suggested = run_json(capsys, "convert", RECOGNIZER, "-o", tmp_path / "suggested.onnx")
    assert code in (0, 1)
    [x] = suggested["inputs"]
    assert x["shape"] == [1, 3, 48, 320] and "PaddleOCR's recognizer" in x["source"]  # the shape service's, with why
    code, given = run_json(capsys, "convert", RECOGNIZER, "--shape", "x:2x3x48x160", "--seed", "5",
                           "-o", tmp_path / "given.onnx")
    assert code in (0, 1) and (tmp_path / "given.onnx").is_file()
    assert given["inputs"] == [{"name": "x", "shape": [2, 3, 48, 160], "dtype": "float32",
                                "source": "random (seed 5) at 2x3x48x160 (given)"}]
    assert given["outputs"] and all(o["verdict"] for o in given["outputs"])


def test_convert_takes_the_shapes_of_a_recipe_profile(tmp_path, capsys):
    profile = Profile({"x": ShapeRange((1, 3, 48, 96), (1, 3, 48, 256), (1, 3, 48, 512))})
    recipe = save_recipe(Recipe(profiles=profiles_to_recipe([profile]), inputs={"seed": 3}), tmp_path / "r.toml")
    code, reply = run_json(capsys, "convert", RECOGNIZER, "--recipe", recipe, "--profile", "1",
                           "-o", tmp_path / "fp16.onnx")
    assert code in (0, 1)
    [x] = reply["inputs"]
    assert x["shape"] == [1, 3, 48, 256] and x["source"] == "random (seed 3) at 1x3x48x256 (the opt shape of profile 1)"


def test_quantize_calibrates_and_checks_at_the_given_shape(tmp_path, capsys):
    code, reply = run_json(capsys, "quantize", RECOGNIZER, "--shape", "x:1x3x48x96", "--calib-random", "2",
                           "-o", tmp_path / "int8.onnx")
    assert code in (0, 1) and (tmp_path / "int8.onnx").is_file()
    assert reply["calibration"].startswith("2 seeded random samples") and "1x3x48x96 (given)" in reply["calibration"]
    # The check runs on the seed after the calibration's two: data the calibration has not seen.
    assert reply["inputs"][0]["shape"] == [1, 3, 48, 96] and reply["inputs"][0]["source"].startswith("random (seed 2)")
    assert reply["outputs"]


def test_quantize_checks_on_the_data_given(tmp_path, capsys):
    data = np.random.default_rng(0).uniform(0, 1, (1, 3, 48, 128)).astype(np.float32)
    np.savez(tmp_path / "check.npz", x=data)
    code, reply = run_json(capsys, "quantize", RECOGNIZER, "--inputs", tmp_path / "check.npz", "--calib-random", "2",
                           "--shape", "x:1x3x48x128", "-o", tmp_path / "int8.onnx")
    assert code in (0, 1)
    assert reply["inputs"] == [{"name": "x", "shape": [1, 3, 48, 128], "dtype": "float32", "source": "check.npz"}]
    assert "1x3x48x128 (given)" in reply["calibration"]  # the file is the check's; calibration stays random


def test_compare_keeps_the_same_options(tmp_path, capsys):
    code, reply = run_json(capsys, "compare", RECOGNIZER, "--against", RECOGNIZER, "--shape", "x:1x3x48x128")
    assert code == 0 and reply["passed"]
    assert reply["inputs"][0]["shape"] == [1, 3, 48, 128] and "(given)" in reply["inputs"][0]["source"]


@pytest.mark.parametrize(("shape", "message"), [("x:1x3x48", "has rank 3"), ("image:1x3x48x96", "Unknown input")])
def test_a_shape_that_does_not_fit_is_a_clear_error_and_writes_nothing(tmp_path, capsys, shape, message):
    for command in ("convert", "quantize"):
        output = tmp_path / f"{command}.onnx"
        code = main([command, str(RECOGNIZER), "--shape", shape, "-o", str(output)])
        assert code == 2 and message in capsys.readouterr().err and not output.exists()
