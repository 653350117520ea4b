"""What the workbench hands to onnxruntime, or writes, loads in every supported onnxruntime: the newest onnx stamps
its own IR version (onnx 1.23: 14) on what it makes, which the oldest supported onnxruntime (1.29: ≤ 13) refuses.
scripts/test.sh runs these in the mixed environment (newest onnx beside the oldest onnxruntime) too."""

import json
from dataclasses import asdict

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper

from tests.conftest import ROOT
from workbench.core.onnxruntime_compat import CACHE_VARIABLE, compatibility_issues, for_onnxruntime, runtime_limits
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.errors import WorkbenchError
from workbench.core.fixes.apply import apply_fix, parse_spec
from workbench.core.model.ir_versions import (OLDEST_ONNXRUNTIME_MAX_IR, OLDEST_ONNXRUNTIME_MAX_OPSET,
                                               ir_version_at_most, required_ir_version)
from workbench.core.model.loading import load_model, save_model

GROUPNORM = ROOT / "tests" / "corpus" / "groupnorm_ts.onnx"  # a real TorchScript export: IR 8, opset 17
FLOAT6E2M3 = 27  # added in IR 14; older onnx releases have no name for it
FEED = {"input": np.random.default_rng(0).standard_normal((1, 3, 32, 32), dtype=np.float32)}


@pytest.fixture
def newest_ir_model(tmp_path):
    """The export as the installed onnx writes models it makes: stamped with its own newest IR version."""
    proto = onnx.load(str(GROUPNORM))
    proto.ir_version = onnx.IR_VERSION
    path = tmp_path / "gn.onnx"
    onnx.save(proto, str(path))
    return path


def _reference() -> np.ndarray:
    return ort.InferenceSession(str(GROUPNORM), providers=["CPUExecutionProvider"]).run(None, FEED)[0]


def test_the_oldest_supported_onnxruntimes_limits_hold_for_the_installed_one():
    limits = runtime_limits()  # what onnxruntime itself says when it refuses a model
    assert limits.max_ir_version >= OLDEST_ONNXRUNTIME_MAX_IR and limits.max_opset >= OLDEST_ONNXRUNTIME_MAX_OPSET


def test_the_ir_version_a_model_needs_comes_from_its_opset_and_types():
    proto = onnx.load(str(GROUPNORM))
    assert required_ir_version(proto).version == 8  # opset 17 came with IR 8 (onnx 1.12)
    assert ir_version_at_most(proto, 13) == 8  # never raised
    proto.ir_version = 14
    assert ir_version_at_most(proto, 13) == 13
    proto.graph.initializer.append(numpy_helper.from_array(np.zeros(4, np.float32), "fp8_weights"))
    proto.graph.initializer[-1].data_type = TensorProto.FLOAT8E4M3FN
    assert required_ir_version(proto).version == 9
    proto.graph.initializer[-1].data_type = FLOAT6E2M3
    assert required_ir_version(proto).version == 14 and ir_version_at_most(proto, 13) == 14


def test_a_model_with_the_newest_ir_runs_under_the_installed_onnxruntime(newest_ir_model):
    model = load_model(newest_ir_model)
    assert model.proto.ir_version == onnx.IR_VERSION
    if onnx.IR_VERSION > runtime_limits().max_ir_version:
        assert "lowered" in compatibility_issues(model.proto)[0]
    with OnnxruntimeRunner(model) as runner:
        np.testing.assert_array_equal(runner.run(FEED)["output"], _reference())


@pytest.mark.parametrize("spec", ["fuse-groupnorm", "set-input-shape:input=input,shape=1x3x32x32"])
def test_saved_fixes_load_in_every_supported_onnxruntime(newest_ir_model, tmp_path, spec):
    model = load_model(newest_ir_model)
    result = apply_fix(model, parse_spec(spec))
    assert "onnxruntime session" in result.validation.checked_by, result.validation.text
    written = save_model(result.after.proto, tmp_path / "fixed.onnx", protect=model.path,
                         weights_dir=result.after.weights_dir)
    assert onnx.load(str(written)).ir_version == min(onnx.IR_VERSION, OLDEST_ONNXRUNTIME_MAX_IR)
    session = ort.InferenceSession(str(written), providers=["CPUExecutionProvider"])  # the file as it is
    np.testing.assert_allclose(session.run(None, FEED)[0], _reference(), rtol=1e-4, atol=1e-4)


def test_a_model_that_needs_a_newer_ir_than_onnxruntime_reads_gets_a_clear_error():
    proto = onnx.load(str(GROUPNORM))
    proto.ir_version = 14
    proto.graph.initializer.append(numpy_helper.from_array(np.zeros(4, np.float32), "fp6_weights"))
    proto.graph.initializer[-1].data_type = FLOAT6E2M3
    if runtime_limits().max_ir_version >= 14:
        assert for_onnxruntime(proto) is proto
        return
    with pytest.raises(WorkbenchError) as info:
        for_onnxruntime(proto)
    assert f"up to {runtime_limits().max_ir_version}" in info.value.message and "needs IR 14" in info.value.message
    assert "Upgrade onnxruntime" in info.value.hint
    assert "cannot run this model" in compatibility_issues(proto)[0]


def test_the_limits_are_kept_for_the_installed_onnxruntime_and_a_damaged_copy_is_asked_again(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path))
    runtime_limits.cache_clear()
    try:
        asked = runtime_limits()
        assert asked.version == ort.__version__
        [kept] = tmp_path.glob("onnxruntime-limits-*.json")
        assert json.loads(kept.read_text()) == asdict(asked)
        kept.write_text("{not json")
        runtime_limits.cache_clear()
        assert runtime_limits() == asked and json.loads(kept.read_text()) == asdict(asked)
    finally:
        runtime_limits.cache_clear()  # the other tests ask with the run's own cache folder
