"""``trt-workbench repair``: writes only accepted repairs, never over the original; exit codes."""

from __future__ import annotations

import json
import shutil

from tests.conftest import SAMPLES
from workbench.cli import main
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.model.loading import load_model
from workbench.core.recipe import load_recipe


def _copy(tmp_path, name):
    return shutil.copy(SAMPLES / name, tmp_path / name)


def test_meaning_changing_repair_needs_accept_changes(tmp_path, capsys, backend):
    model = _copy(tmp_path, "if_scalar.onnx")
    before = (tmp_path / "if_scalar.onnx").read_bytes()
    args = ["repair", str(model), "-o", str(tmp_path / "fixed.onnx"), "--recipe-out", str(tmp_path / "r.toml")]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "freeze-input:input=downsample_ratio" in out and "--accept-changes" in out
    assert not (tmp_path / "fixed.onnx").exists() and not (tmp_path / "r.toml").exists()

    assert main(args + ["--accept-changes", "--input-value", "downsample_ratio=0.5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "repaired" and data["written"] is True
    assert data["needs_confirmation"] == [data["steps"][0]["title"]]
    assert load_recipe(tmp_path / "r.toml").fixes[0]["params"]["value"] == 0.5
    assert build_engine(load_model(tmp_path / "fixed.onnx"), BuildSettings(), [], backend=backend).succeeded
    assert (tmp_path / "if_scalar.onnx").read_bytes() == before


def test_profile_repair_writes_the_recipe_profile(tmp_path, capsys):
    args = ["repair", str(SAMPLES / "clean_cnn.onnx"), "-o", str(tmp_path / "fixed.onnx"),
            "--recipe-out", str(tmp_path / "r.toml")]
    assert main(args) == 0
    assert "optimization profile (images 1x3x64x64)" in capsys.readouterr().out
    recipe = load_recipe(tmp_path / "r.toml")
    assert recipe.fixes == [] and recipe.profiles[0]["shapes"]["images"]["opt"] == [1, 3, 64, 64]


def test_clean_model_has_nothing_to_repair_and_nothing_is_written(tmp_path, capsys):
    args = ["repair", str(SAMPLES / "uint8_resize.onnx"), "-o", str(tmp_path / "fixed.onnx"),
            "--recipe-out", str(tmp_path / "r.toml")]
    assert main(args) == 0
    assert "nothing to repair" in capsys.readouterr().out
    assert not (tmp_path / "fixed.onnx").exists()


def test_bad_input_value_is_a_clear_error(tmp_path, capsys):
    args = ["repair", str(SAMPLES / "if_scalar.onnx"), "-o", str(tmp_path / "fixed.onnx"),
            "--recipe-out", str(tmp_path / "r.toml"), "--input-value", "downsample_ratio"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Cannot read the input value 'downsample_ratio'" in err and "NAME=VALUE" in err
    assert not (tmp_path / "fixed.onnx").exists()


def test_refuses_to_overwrite_the_original(tmp_path, capsys):
    model = _copy(tmp_path, "if_scalar.onnx")
    before = (tmp_path / "if_scalar.onnx").read_bytes()
    code = main(["repair", str(model), "-o", str(model), "--recipe-out", str(tmp_path / "r.toml"),
                 "--accept-changes"])
    assert code == 2
    assert "Refused to overwrite the original model." in capsys.readouterr().err
    assert (tmp_path / "if_scalar.onnx").read_bytes() == before
    assert not (tmp_path / "r.toml").exists()
