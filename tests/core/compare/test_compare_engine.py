"""The engine side and the CLI: a real TensorRT-RTX engine built on the CPU, exit codes, reports."""

import json

import numpy as np
import onnx
import pytest

from tests.compare_models import chain_model, perturbed, tiny_output_copy
from workbench.cli import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, main
from workbench.core.compare.comparison import CompareSettings, run_comparison
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.runners import TensorRTRunner


@pytest.fixture(scope="module")
def files(tmp_path_factory, backend):
    folder = tmp_path_factory.mktemp("compare")
    model = chain_model(6)
    onnx.save(model, folder / "model.onnx")
    onnx.save(perturbed(model, "scale_2"), folder / "changed.onnx")
    logger = backend.logger()
    builder, network, parser = backend.create_builder_network(logger)
    assert parser.parse(model.SerializeToString())
    config = builder.create_builder_config()
    engine = builder.build_serialized_network(network, config)
    assert engine is not None, logger.errors()
    (folder / "model.engine").write_bytes(bytes(engine))
    return folder


def test_engine_runner_says_why_it_cannot_run_here(files, backend):
    support = backend.engine_support()
    if support.can_run:
        pytest.skip(f"the refusal path is not reachable: {support.reason}")
    with pytest.raises(WorkbenchError) as info:
        TensorRTRunner(files / "model.engine", backend)
    # No GPU: the driver's reason; a GPU the backend refuses (an H100 under TensorRT-RTX): which and why.
    assert support.blocker and info.value.message == f"Cannot run model.engine here: {support.blocker}"
    assert "needs a GPU" in info.value.hint


def test_engine_from_another_backend_or_not_an_engine_is_named(files, backend, tmp_path):
    data = (files / "model.engine").read_bytes()
    other = "tensorrt" if backend.is_rtx else "tensorrt-rtx"
    header = b"ftrt" if backend.is_rtx else b"vtrt"
    (tmp_path / "other.engine").write_bytes(header + data[4:])
    with pytest.raises(WorkbenchError, match=f"it was built by {other}, but the active backend is {backend.name}"):
        TensorRTRunner(tmp_path / "other.engine", backend)
    with pytest.raises(WorkbenchError, match="not a TensorRT engine"):
        TensorRTRunner(files / "model.onnx", backend)
    with pytest.raises(WorkbenchError, match="Cannot read the engine file"):
        TensorRTRunner(tmp_path / "missing.engine", backend)


@pytest.mark.gpu
def test_engine_matches_onnxruntime_on_a_gpu(files, backend):
    support = backend.engine_support()
    if not support.can_run:
        pytest.skip(support.reason)
    model = LoadedModel.from_proto(onnx.load(files / "model.onnx"))
    result = run_comparison(model, CompareSettings(against="engine", engine_path=str(files / "model.engine"),
                                                   timing_runs=5), backend=backend)
    assert result.passed, result.verdict
    assert result.outputs[0].cosine > 0.9999 and len(result.timing) == 2


def test_cli_exit_codes_and_json(files, capsys):
    model, changed = str(files / "model.onnx"), str(files / "changed.onnx")
    assert main(["compare", model, "--against", model]) == EXIT_OK
    assert "PASS" in capsys.readouterr().out
    assert main(["compare", model, "--against", changed, "--bisect", "--json"]) == EXIT_PROBLEMS
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False and data["bisect"]["node"] == "mul_2"
    assert main(["compare", model, "--against", changed, "--atol", "0.005", "--rtol", "0.005"]) == EXIT_OK
    capsys.readouterr()


def test_cli_engine_on_this_machine_exits_2_with_the_reason(files, backend, capsys):
    support = backend.engine_support()
    if support.can_run:
        pytest.skip(f"the refusal path is not reachable: {support.reason}")
    code = main(["compare", str(files / "model.onnx"), "--engine", str(files / "model.engine")])
    err = capsys.readouterr().err
    assert code == EXIT_ERROR
    assert f"error: Cannot run model.engine here: {support.blocker}" in err and "Traceback" not in err


def test_cli_inputs_file_and_report(files, tmp_path, capsys):
    data = np.full((2, 4, 6, 6), 0.25, np.float32)
    np.savez(tmp_path / "data.npz", x=data)
    code = main(["compare", str(files / "model.onnx"), "--against", str(files / "changed.onnx"),
                 "--inputs", str(tmp_path / "data.npz"), "--report", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert code == EXIT_PROBLEMS and "from data.npz" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["inputs"][0]["source"] == "data.npz" and (tmp_path / "report.html").is_file()
    assert main(["compare", str(files / "model.onnx"), "--against", str(files / "model.onnx"),
                 "--report", str(tmp_path / "nowhere" / "r")]) == EXIT_ERROR
    assert "does not exist" in capsys.readouterr().err


def test_cli_bad_shape_text(files, capsys):
    assert main(["compare", str(files / "model.onnx"), "--against", str(files / "model.onnx"),
                 "--shape", "x=1x2"]) == EXIT_ERROR
    assert "name:1x3x224x224" in capsys.readouterr().err


@pytest.fixture(scope="module")
def cnn_files(tmp_path_factory, samples):
    """The clean_cnn sample with ~1e-9 outputs, a copy nudged by 0.1 % and one with a conv weight x 1.3."""
    folder = tmp_path_factory.mktemp("judge")
    tiny = tiny_output_copy(onnx.load(samples / "clean_cnn.onnx"), ("fc.weight", "fc.bias"))
    onnx.save(tiny, folder / "tiny.onnx")
    onnx.save(perturbed(tiny, "fc.weight", 1.001), folder / "nudged.onnx")
    onnx.save(perturbed(tiny, "conv2.weight", 1.3), folder / "broken.onnx")
    return folder


def test_cli_exits_1_with_the_reason_when_the_tolerance_cannot_judge(cnn_files, capsys):
    model, nudged = str(cnn_files / "tiny.onnx"), str(cnn_files / "nudged.onnx")
    assert main(["compare", model, "--against", nudged]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "CANNOT_JUDGE" in out and "below 10 × atol = 0.0001, so any difference passes atol" in out
    assert out.strip().splitlines()[-1].startswith("CANNOT_JUDGE: 1 of 1 output(s) the tolerance cannot judge: logits")
    assert main(["compare", model, "--against", nudged, "--json"]) == EXIT_PROBLEMS
    data = json.loads(capsys.readouterr().out)
    assert (data["verdict"], data["passed"]) == ("CANNOT_JUDGE", False) and "cannot judge" in data["reason"]
    assert data["outputs"][0]["verdict"] == "CANNOT_JUDGE" and "below 10 × atol" in data["outputs"][0]["reason"]
    assert main(["compare", model, "--against", model]) == EXIT_OK  # identical outputs: PASS, even tiny ones
    assert capsys.readouterr().out.strip().endswith("PASS: all 1 output(s) pass")


def test_cli_fails_a_planted_perturbation_that_atol_alone_passes(cnn_files, capsys):
    assert main(["compare", str(cnn_files / "tiny.onnx"), "--against", str(cnn_files / "broken.onnx"),
                 "--json"]) == EXIT_PROBLEMS
    data = json.loads(capsys.readouterr().out)
    output = data["outputs"][0]
    assert data["verdict"] == "FAIL" and output["within_tolerance"] is True and output["outside_fraction"] == 0
    assert output["reason"].startswith("cosine 0.99") and "logits (cosine" in data["reason"]
