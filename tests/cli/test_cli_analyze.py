"""``trt-workbench analyze``: text, JSON and exit codes."""

import json
import subprocess
import sys

from tests.conftest import ROOT, SAMPLES
from workbench.cli import main


def test_json_output_for_a_model_with_a_parser_error(capsys):
    code = main(["analyze", str(SAMPLES / "if_scalar.onnx"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert {"inputs", "outputs", "opsets", "node_count", "op_histogram"} <= set(data["summary"])
    assert {"name", "version", "can_run_engines", "reason"} <= set(data["backend"])
    assert {"name", "op", "status"} <= set(data["nodes"][0])
    kinds = {(p["kind"], p["severity"], p["node"], p["op"]) for p in data["problems"]}
    assert ("parser-error", "error", "down/resize", "Resize") in kinds


def test_a_bundled_sample_is_analysed_by_its_name(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file of that name here: the name means the bundled sample
    assert main(["analyze", "if_scalar", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["path"] == str(SAMPLES / "if_scalar.onnx")  # the reply says which file it was


def test_clean_model_exits_zero_with_text_output(capsys):
    code = main(["analyze", str(SAMPLES / "clean_cnn.onnx")])
    out = capsys.readouterr().out
    assert code == 0
    assert "all nodes supported" in out and "images: float32 [batch, 3, 64, 64]  (dynamic)" in out
    assert "fixes: set-input-shape" in out  # every problem says what answers it


def test_text_output_names_the_fix_for_a_parser_error(capsys):
    assert main(["analyze", str(SAMPLES / "if_scalar.onnx")]) == 1
    out = capsys.readouterr().out
    assert "parse/parser-error [Resize down/resize in choose_resolution]" in out
    assert "fixes: freeze-input" in out


def test_error_exit_code_and_message_without_traceback(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), "analyze", str(bad)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "error: bad.onnx is not an ONNX model" in result.stderr
    assert "Traceback" not in result.stderr
    debug = subprocess.run([sys.executable, str(ROOT / "main.py"), "analyze", str(bad), "--debug"],
                           capture_output=True, text=True, cwd=ROOT)
    assert "Traceback" in debug.stderr
