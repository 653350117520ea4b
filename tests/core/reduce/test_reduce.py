"""Reduction of failures planted in real corpus exports, with the real TensorRT-RTX parser and builder and
onnxruntime; the bundles' repro.sh run with bash in a fresh environment (only ``python`` on PATH)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.core.reduce.plants import CORPUS, plant_custom_op, plant_nms, plant_nonzero
from tests.corpus.perturb import perturbed_copy
from workbench.core.build.child import ABORT_SWITCH
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import load_model
from workbench.core.reduce.bundle import prepare_bundle_folder, write_bundle
from workbench.core.reduce.search import ProblemSpec, ReduceStatus, reduce_model
from workbench.core.reduce.signature import CRASH_CODE, FailureStage

HANDFUL = 5


def run_repro(folder: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """``bash repro.sh`` from a fresh environment whose only ``python`` is this interpreter (no PYTHONPATH, so
    nothing of this project is importable)."""
    bin_dir = tmp_path / "fresh_bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return subprocess.run(["bash", str(folder / "repro.sh")], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin"})


def test_parser_refusal_in_the_middle_of_a_transformer_reduces_to_the_culprit(tmp_path, rtx_backend):
    path, culprit = plant_nonzero("transformer_ts_seq64.onnx", tmp_path / "transformer_nonzero.onnx")
    result = reduce_model(load_model(path), backend=rtx_backend, time_limit=120)
    assert result.status == ReduceStatus.REDUCED
    assert result.target.signature.stage == FailureStage.PARSE and result.target.signature.op == "NonZero"
    assert culprit in result.reduced_nodes and len(result.reduced_nodes) <= HANDFUL
    assert result.original_nodes > 200
    boundary = [i for i in result.inputs if i["boundary"]]
    assert boundary and all(isinstance(d, int) for i in boundary for d in i["shape"])  # real, static shapes
    folder = prepare_bundle_folder(tmp_path / "bundle", path)
    write_bundle(result, folder, rtx_backend, protect=path)
    repro = run_repro(folder, tmp_path)
    assert repro.returncode == 1, repro.stdout + repro.stderr
    assert "REPRODUCED: parse/UNSUPPORTED_NODE on NonZero" in repro.stdout


def test_a_custom_domain_op_in_a_transformer_onnxruntime_cannot_run(tmp_path, rtx_backend):
    """onnxruntime cannot run the original (unknown domain): boundary types come from shape inference alone."""
    path, culprit = plant_custom_op("transformer_ts_seq64.onnx", tmp_path / "transformer_custom.onnx")
    result = reduce_model(load_model(path), backend=rtx_backend, time_limit=120)
    assert result.status == ReduceStatus.REDUCED and result.reduced_nodes == [culprit]
    assert result.target.signature.op == "PlantedOp"
    assert any("onnxruntime could not run the original" in reason for reason in result.shape_reasons)
    folder = prepare_bundle_folder(tmp_path / "bundle", path)
    write_bundle(result, folder, rtx_backend, protect=path)
    repro = run_repro(folder, tmp_path)
    assert repro.returncode == 1 and "REPRODUCED: parse/INVALID_NODE on PlantedOp" in repro.stdout, repro.stdout


def test_builder_refusal_reduces_and_repro_sh_reproduces_it(tmp_path, rtx_backend):
    path, culprit = plant_nms("l2_embedding_ts.onnx", tmp_path / "embedding_nms.onnx")
    result = reduce_model(load_model(path), backend=rtx_backend, time_limit=200)
    assert result.status == ReduceStatus.REDUCED
    assert result.target.signature.stage == FailureStage.BUILD
    assert result.target.signature.op == "NonMaxSuppression"
    assert culprit in result.reduced_nodes and len(result.reduced_nodes) <= HANDFUL
    folder = prepare_bundle_folder(tmp_path / "bundle", path)
    written = {p.name for p in write_bundle(result, folder, rtx_backend, protect=path)}
    assert {"reduced.onnx", "repro.sh", "environment.txt", "error.log", "README.md"} <= written
    readme = (folder / "README.md").read_text()
    for section in ("## Description", "## Environment", "## Relevant Files", "## Steps To Reproduce"):
        assert section in readme
    assert "tensorrt-rtx" in (folder / "environment.txt").read_text()
    repro = run_repro(folder, tmp_path)
    assert repro.returncode == 1, repro.stdout + repro.stderr
    assert "REPRODUCED: build/" in repro.stdout and "has no runners" in repro.stdout


def test_a_builder_failure_on_a_dynamic_input_keeps_the_shape_services_profile(tmp_path, rtx_backend):
    """PaddleOCR's classifier names H and W both '?': the builder refuses the realistic profile (H 48, W 192). The
    failure names no node, so the bisections find the first node that reads the input; the profile goes along."""
    path = CORPUS / "text_classifier_p2o.onnx"
    result = reduce_model(load_model(path), ProblemSpec.parse("shared-dim-name"), backend=rtx_backend,
                          time_limit=200)
    assert result.status == ReduceStatus.REDUCED and len(result.reduced_nodes) <= HANDFUL
    assert result.target.signature.code == "Error Code 4: API Usage Error"
    assert [i["name"] for i in result.inputs] == ["x"] and "probe" in result.inputs[0]["reason"]
    assert result.profiles and "x" in result.profiles[0].shapes
    folder = prepare_bundle_folder(tmp_path / "bundle", path)
    write_bundle(result, folder, rtx_backend)
    assert json.loads((folder / "expected.json").read_text())["profiles"][0]["shapes"]["x"]["opt"] == [1, 3, 48, 192]
    repro = run_repro(folder, tmp_path)
    assert repro.returncode == 1 and "REPRODUCED: build/Error Code 4" in repro.stdout, repro.stdout + repro.stderr


def test_a_failure_that_is_not_the_target_does_not_count(tmp_path, rtx_backend):
    """The NMS model parses: asking for a parser error finds none, and the builder's failure is not taken instead."""
    path, _culprit = plant_nms("l2_embedding_ts.onnx", tmp_path / "embedding_nms.onnx")
    with pytest.raises(WorkbenchError, match="does not show parser-error"):
        reduce_model(load_model(path), ProblemSpec.parse("parser-error"), backend=rtx_backend, time_limit=60)


def test_accuracy_failure_from_one_perturbed_node(tmp_path, rtx_backend):
    source = CORPUS / "transformer_ts_seq64.onnx"
    perturbed_path = tmp_path / "perturbed.onnx"
    culprit = perturbed_copy(source, perturbed_path)
    result = reduce_model(load_model(source), ProblemSpec.parse("compare"), against=load_model(perturbed_path),
                          backend=rtx_backend, time_limit=120)
    assert result.status == ReduceStatus.REDUCED
    assert culprit in result.reduced_nodes and len(result.reduced_nodes) <= HANDFUL
    folder = prepare_bundle_folder(tmp_path / "bundle", source)
    written = {p.name for p in write_bundle(result, folder, rtx_backend)}
    assert {"inputs.npz", "onnxruntime_outputs.npz", "reduced_test.onnx"} <= written
    repro = run_repro(folder, tmp_path)
    assert repro.returncode == 1, repro.stdout + repro.stderr
    assert "REPRODUCED: compare/mismatch" in repro.stdout


def test_a_failure_that_needs_every_node_is_not_reducible(tmp_path, rtx_backend):
    """Reducing the reduced model again: no smaller cut fails, and the re-check says the failure is real."""
    path, _culprit = plant_nonzero("transformer_ts_seq64.onnx", tmp_path / "transformer_nonzero.onnx")
    first = reduce_model(load_model(path), backend=rtx_backend, time_limit=120)
    folder = prepare_bundle_folder(tmp_path / "bundle", path)
    write_bundle(first, folder, rtx_backend)
    again = reduce_model(load_model(folder / "reduced.onnx"), backend=rtx_backend, time_limit=60)
    assert again.status == ReduceStatus.NOT_REDUCIBLE
    assert again.target.signature == first.target.signature
    assert "Not reducible" in again.message


def test_the_time_limit_stops_the_search_with_the_smallest_model_so_far(tmp_path, rtx_backend):
    path, _culprit = plant_nonzero("transformer_ts_seq64.onnx", tmp_path / "transformer_nonzero.onnx")
    result = reduce_model(load_model(path), backend=rtx_backend, time_limit=0.0)
    assert result.status == ReduceStatus.STOPPED_EARLY
    assert "Stopped early" in result.message and any("time limit" in step for step in result.steps)
    assert len(result.reduced_nodes) == result.original_nodes  # nothing was tried: the original is the smallest


def test_a_builder_abort_is_a_failure_of_its_own_and_does_not_end_the_reduction(tmp_path, rtx_backend, monkeypatch):
    """Every build aborts inside the build child (the test switch TensorRT's internal assertions stand in for): the
    reduction survives each abort, names it by its signature (no node: the bisection and ddmin do the work) and
    ends at one node."""
    monkeypatch.setenv(ABORT_SWITCH, "1")
    source = load_model(CORPUS / "l2_embedding_ts.onnx")
    result = reduce_model(source, ProblemSpec.parse("builder-error"), backend=rtx_backend, time_limit=240)
    assert result.target.signature.code == CRASH_CODE and result.target.node == ""
    assert result.status == ReduceStatus.REDUCED and len(result.reduced_nodes) == 1
    assert any(step.startswith("cut from the outputs") for step in result.steps)
