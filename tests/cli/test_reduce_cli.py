"""``trt-workbench reduce`` as users run it: real exports with a parser error, one JSON object, the bundle's
repro.sh reproducing the failure from a fresh environment; a model without the failure writes nothing."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CORPUS, run_cli
from tests.core.reduce.test_reduce import run_repro


@pytest.mark.parametrize("name", ["mid_nonzero_ts.onnx", "detector_nms_ts.onnx"])
def test_real_exports_with_a_parser_error_reduce_to_a_bundle_that_reproduces_it(tmp_path, name):
    folder = tmp_path / "report"
    done = run_cli("reduce", CORPUS / name, "-o", folder, "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)  # exactly one JSON object
    assert reply["status"] == "reduced" and reply["reduced_nodes"] <= 10
    assert "NonZero" in reply["ops"] and reply["target"]["signature"]["stage"] == "parse"
    assert {str(folder / n) for n in ("reduced.onnx", "repro.sh", "README.md")} <= set(reply["written"])
    repro = run_repro(folder, tmp_path)
    assert repro.returncode == 1 and "REPRODUCED: parse/" in repro.stdout, repro.stdout + repro.stderr


def test_a_model_without_the_failure_is_an_error_and_writes_nothing(tmp_path):
    folder = tmp_path / "report"
    done = run_cli("reduce", CORPUS / "if_cond_dynamo.onnx", "-o", folder, "--json")
    assert done.returncode == 2
    assert "does not show any failure" in json.loads(done.stdout)["error"]["message"]
    assert not folder.exists()


def test_text_output_says_what_was_reduced_and_written(tmp_path):
    done = run_cli("reduce", CORPUS / "mid_nonzero_ts.onnx", "-o", tmp_path / "report", "--time-limit", "60")
    assert done.returncode == 0, done.stderr
    assert "that fail the same way (checked again)" in done.stdout and "wrote" in done.stdout
