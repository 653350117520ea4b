"""``trt-workbench fix``: replaying GUI steps from a recipe gives the same graph; exit codes; safety."""

import json
import tomllib

import onnx

from tests.compare_models import tiny_output_copy
from tests.conftest import SAMPLES
from workbench.cli import main
from workbench.core.fixes.apply import apply_fix, make_step
from workbench.core.model.loading import load_model, save_model
from workbench.core.recipe import Recipe, save_recipe


def test_gui_steps_saved_as_a_recipe_replay_to_the_same_graph(tmp_path, capsys):
    # What the window does: form texts → step → apply on the current model, one step after another.
    model = load_model(SAMPLES / "nms_detector.onnx")
    current = model
    steps = [make_step("cut-outputs", {"tensors": "boxes;scores"}), make_step("fold-constants", {})]
    for step in steps:
        current = apply_fix(current, step).after
    recipe_path = save_recipe(Recipe(fixes=[s.to_dict() for s in steps], source_model=str(model.path)),
                              tmp_path / "steps.toml")
    gui_file = save_model(current.proto, tmp_path / "gui.onnx")

    code = main(["fix", str(SAMPLES / "nms_detector.onnx"), "--recipe", str(recipe_path), "-o",
                 str(tmp_path / "cli.onnx"), "--recipe-out", str(tmp_path / "again.toml")])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "cli.onnx").read_bytes() == gui_file.read_bytes()
    assert "1. cut-outputs:tensors=boxes;scores" in out and "Parity vs the original" in out and "exact" in out
    again = tomllib.loads((tmp_path / "again.toml").read_text())
    assert again["fixes"] == [s.to_dict() for s in steps]


def test_apply_specs_with_json_output(tmp_path, capsys):
    out_path = tmp_path / "fixed.onnx"
    code = main(["fix", str(SAMPLES / "if_scalar.onnx"), "--apply", "freeze-input:input=downsample_ratio,value=0.5",
                 "--apply", "remove-unused", "-o", str(out_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [s["step"]["name"] for s in data["steps"]] == ["freeze-input", "remove-unused"]
    assert data["parity"]["verdict"] in ("exact", "within-tolerance")
    assert "If" not in {n.op_type for n in onnx.load(out_path).graph.node}


def test_bad_step_exits_2_writes_nothing_and_refuses_the_original(tmp_path, capsys):
    source = tmp_path / "model.onnx"
    source.write_bytes((SAMPLES / "clean_cnn.onnx").read_bytes())
    code = main(["fix", str(source), "--apply", "set-input-shape:input=images,shape=1x3",
                 "-o", str(tmp_path / "o.onnx")])
    err = capsys.readouterr().err
    assert code == 2 and "has rank 2" in err and not (tmp_path / "o.onnx").exists()
    code = main(["fix", str(source), "--apply", "set-input-shape:input=images,shape=1x3x64x64", "-o", str(source)])
    assert code == 2 and "Refused to overwrite the original model" in capsys.readouterr().err
    assert source.read_bytes() == (SAMPLES / "clean_cnn.onnx").read_bytes()
    code = main(["fix", str(source), "--apply", "set-input-shape:input=images,shape=1x3x64x64", "-o", str(source),
                 "--overwrite-original"])
    assert code == 0 and load_model(source).summary().inputs[0].shape == (1, 3, 64, 64)


def test_empty_or_invalid_recipe_is_an_error(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('version = 1\n[[fixes]]\nparams = { input = "x" }\n')
    code = main(["fix", str(SAMPLES / "clean_cnn.onnx"), "--recipe", str(recipe), "-o", str(tmp_path / "o.onnx")])
    assert code == 2 and "has no name" in capsys.readouterr().err


def test_fix_whose_outputs_the_tolerance_cannot_judge_exits_1_with_the_reason(tmp_path, capsys):
    # GroupNorm with its affine weights scaled so the outputs are ~1e-9: fusing changes them by ~1e-15,
    # which atol passes whatever it is.
    tiny = tiny_output_copy(onnx.load(SAMPLES / "groupnorm.onnx"), ("gn.weight", "gn.bias"))
    onnx.save(tiny, tmp_path / "tiny.onnx")
    code = main(["fix", str(tmp_path / "tiny.onnx"), "--apply", "fuse-groupnorm", "-o", str(tmp_path / "fused.onnx"),
                 "--json"])
    parity = json.loads(capsys.readouterr().out)["parity"]
    assert code == 1 and (tmp_path / "fused.onnx").is_file()
    assert parity["verdict"] == "tolerance-cannot-judge" and "below 10 × atol" in parity["reason"]
    assert parity["text"].startswith("numerically changed; the tolerance cannot judge whether it matters")
