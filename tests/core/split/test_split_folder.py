"""The deployment folder and the command line, as users run them: `trt-workbench split` in its own
process, the folder's run_split.py on an .npz file, and `trt-workbench build --recipe split.toml`."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import CORPUS, run_cli
from workbench.cli import EXIT_ERROR, EXIT_OK

pytestmark = pytest.mark.slow


def test_cli_json_lists_parts_boundaries_build_and_comparison(tmp_path):
    out = tmp_path / "split"
    done = run_cli("split", CORPUS / "detector_nms_ts.onnx", "-o", out, "--json")
    assert done.returncode == EXIT_OK, done.stderr
    data = json.loads(done.stdout)
    assert {"parts", "boundaries", "build", "comparison"} <= set(data)
    assert [p["runtime"] for p in data["parts"]] == ["tensorrt", "onnxruntime"]
    for part in data["parts"]:
        assert {"runtime", "file", "nodes", "inputs", "outputs"} <= set(part) and (out / part["file"]).is_file()
    assert data["build"]["succeeded"] and data["comparison"]["matches"]
    assert {b["name"] for b in data["boundaries"]} == set(data["parts"][0]["outputs"])
    assert {"trt_part.onnx", "rest.onnx", "trt_part.engine", "split.toml", "run_split.py"} <= \
        {p.name for p in out.iterdir()}


def test_cli_bad_boundary_exits_2_with_the_reason(tmp_path):
    done = run_cli("split", CORPUS / "detector_nms_ts.onnx", "-o", tmp_path / "s", "--boundary", "nope", "--json")
    assert done.returncode == EXIT_ERROR
    assert "has no tensor named 'nope'" in json.loads(done.stdout)["error"]["message"]


def test_cli_fully_supported_model_says_one_part(tmp_path):
    done = run_cli("split", CORPUS / "classifier_ts.onnx", "-o", tmp_path / "s", "--no-engine")
    assert done.returncode == EXIT_OK, done.stderr
    assert "one part, no split needed" in done.stdout and not (tmp_path / "s" / "trt_part.engine").exists()


def test_run_split_script_matches_the_original_on_the_onnxruntime_path(tmp_path):
    out = tmp_path / "split"
    assert run_cli("split", CORPUS / "mid_nonzero_ts.onnx", "-o", out, "--no-engine").returncode == EXIT_OK
    image = np.random.default_rng(1).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    np.savez(tmp_path / "in.npz", image=image)
    # From another folder, with a plain interpreter that has numpy and onnxruntime: nothing of the workbench.
    done = subprocess.run([sys.executable, "-I", str(out / "run_split.py"), str(tmp_path / "in.npz"),
                           "-o", str(tmp_path / "out.npz")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = ort.InferenceSession(str(CORPUS / "mid_nonzero_ts.onnx")).run(None, {"image": image})[0]
    with np.load(tmp_path / "out.npz") as outputs:
        np.testing.assert_array_equal(outputs["maps"], expected)
    assert "maps: float32 [1, 4, 16, 16]" in done.stdout
    split = tomllib.loads((out / "split.toml").read_text())["split"]
    assert [p["file"] for p in split["parts"]] == ["trt_part.onnx", "rest.onnx", "trt_part_2.onnx"]


def test_build_and_compare_understand_split_toml(tmp_path):
    out = tmp_path / "split"
    assert run_cli("split", CORPUS / "detector_nms_ts.onnx", "-o", out, "--no-engine").returncode == EXIT_OK
    # The recipe's cut and profile rebuild the TensorRT part from the original model.
    done = run_cli("build", CORPUS / "detector_nms_ts.onnx", "--recipe", out / "split.toml",
                   "-o", tmp_path / "again.engine", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    built = json.loads(done.stdout)
    assert {t["name"] for t in built["outputs"]} == set(tomllib.loads((out / "split.toml").read_text())
                                                      ["split"]["parts"][0]["outputs"])
    # compare reads its [inputs]: the TensorRT part against itself under onnxruntime at the split's shapes.
    done = run_cli("compare", out / "trt_part.onnx", "--against", out / "trt_part.onnx",
                   "--recipe", out / "split.toml", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["inputs"][0]["shape"] == [1, 3, 224, 224]


def test_cli_splits_torchvision_ssdlite_and_its_folder_runs_it(tmp_path):
    """The real SSDlite export: exit 0, the reasons say what the parser rejected (one NonZero named, its
    per-class twins with it), and the folder's run_split.py gives the detections onnxruntime gives for the
    whole model."""
    model, out = CORPUS / "ssdlite320_torchvision_ts.onnx", tmp_path / "split"
    done = run_cli("split", model, "-o", out, "--no-engine", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    data = json.loads(done.stdout)
    reasons = [why for part in data["parts"] for why in part["reasons"].values()]
    assert any("same op and attributes as" in why and "NonZero" in why for why in reasons)
    assert data["comparison"]["matches"]
    image = np.random.default_rng(3).uniform(0, 1, (3, 320, 320)).astype(np.float32)
    np.savez(tmp_path / "in.npz", images=image)
    done = subprocess.run([sys.executable, "-I", str(out / "run_split.py"), str(tmp_path / "in.npz"),
                           "-o", str(tmp_path / "out.npz")], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": image})))
    with np.load(tmp_path / "out.npz") as outputs:
        assert set(outputs.files) == set(expected) and expected["boxes"].shape[0] > 0
        for name, values in expected.items():
            np.testing.assert_array_equal(outputs[name], values)
