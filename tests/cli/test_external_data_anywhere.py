"""Models whose weights sit in ``<model>.onnx.data`` work from any working directory: every command resolves
the data file relative to the model file, never to the folder the user runs the command in."""

import os
import shutil

import onnx
import pytest

from tests.conftest import CORPUS, ROOT, run_cli


@pytest.fixture(scope="module")
def groupnorm_external(tmp_path_factory):
    """The real TorchScript GroupNorm export, saved with every tensor in gn.onnx.data (torch.onnx's dynamo
    exporter stores even the Reshape targets and norm scales there, which the GroupNorm detector reads)."""
    folder = tmp_path_factory.mktemp("model")
    model = onnx.load(str(CORPUS / "groupnorm_ts.onnx"))
    onnx.save(model, str(folder / "gn.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
              location="gn.onnx.data", size_threshold=0)
    return folder / "gn.onnx"


@pytest.fixture
def elsewhere(tmp_path):
    """An unrelated working directory."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def _commands(out):
    return {
        "analyze": ["analyze"],
        "analyze --build": ["analyze", "--build"],
        "repair": ["repair", "-o", out / "repaired.onnx", "--recipe-out", out / "repair.toml", "--budget", "60"],
        "fix": ["fix", "--apply", "fuse-groupnorm", "-o", out / "fixed.onnx"],
        "compare": ["compare", "--against", None],
        "split": ["split", "-o", out / "split", "--no-engine"],
        "convert": ["convert", "-o", out / "fp16.onnx"],
        "build": ["build", "-o", out / "model.engine"],
    }


@pytest.mark.parametrize("command", list(_commands(ROOT)))
def test_every_command_reads_external_data_relative_to_the_model(command, groupnorm_external, elsewhere, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    relative = os.path.relpath(groupnorm_external, elsewhere)  # a relative path, from the other folder
    args = [relative if a is None else a for a in _commands(out)[command]]
    result = run_cli(args[0], relative, *args[1:], cwd=elsewhere)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "is not regular file" not in result.stderr
    assert not list(elsewhere.iterdir())  # nothing is written to the working directory
    if command in ("repair", "fix", "convert"):
        written = next(out.glob("*.onnx"))
        check = run_cli("analyze", written, cwd=elsewhere)  # what we wrote resolves from anywhere too
        assert check.returncode == 0, check.stderr[-2000:]
    if command == "fix":
        assert "GroupNormalization" in {n.op_type for n in onnx.load(str(out / "fixed.onnx")).graph.node}


def test_analyze_build_never_aborts_from_another_folder(groupnorm_external, elsewhere):
    """It aborted in 2 of 3 runs (exit 134, "terminate called without an active exception"): the analysis
    failed while the shape probe's onnxruntime threads still ran, and the process exited under them."""
    for _run in range(3):
        result = run_cli("analyze", "--build", "--json", groupnorm_external, cwd=elsewhere)
        assert result.returncode == 0 and "terminate called" not in result.stderr, result.stderr[-2000:]


def test_a_corpus_model_with_a_data_file_is_compared_and_split_from_another_folder(elsewhere, tmp_path):
    """The MLP keeps its 3 MB weight in mlp_external.onnx.data: onnxruntime and TensorRT read it from there."""
    model = tmp_path / "mlp" / "mlp_external.onnx"
    shutil.copytree(CORPUS / "external_data", model.parent)
    compared = run_cli("compare", model, "--against", model, cwd=elsewhere)
    assert compared.returncode == 0 and "PASS" in compared.stdout, compared.stderr[-2000:]
    split = run_cli("split", model, "-o", tmp_path / "split", cwd=elsewhere)
    assert split.returncode == 0, split.stderr[-2000:]
    assert not list(elsewhere.iterdir())
