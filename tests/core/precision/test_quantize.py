"""INT8 quantization: the built-in Q/DQ path builds with the real TensorRT-RTX builder; Model Optimizer when
installed."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.corpus.test_corpus import CORPUS
from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import load_model
from workbench.core.precision.conversion import KeepSet, check_accuracy
from workbench.core.precision.quantize import INT8_ATOL, INT8_RTOL, modelopt_available, quantize
from workbench.core.shapes.profiles import Profile, ShapeRange
from workbench.core.shapes.suggest import suggested_feeds

CALIBRATION_SAMPLES = 4
CLASSIFIER = "classifier_ts.onnx"


def test_int8_classifier_builds_with_tensorrt_rtx_and_reports_accuracy(backend):
    model = load_model(CORPUS / CLASSIFIER)
    calibration = [suggested_feeds(model, seed=seed) for seed in range(CALIBRATION_SAMPLES)]
    quantized = quantize(model, calibration, exclude=KeepSet(op_types=["Gemm"]))
    ops = {node.op_type for node in quantized.proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    float_weights = {init.name for init in quantized.proto.graph.initializer if init.data_type == 1}
    gemm_weights = [node.input[1] for node in quantized.proto.graph.node if node.op_type == "Gemm"]
    assert gemm_weights and set(gemm_weights) <= float_weights  # excluded: the weights stay float initializers
    check = check_accuracy(model, quantized, suggested_feeds(model, seed=99), Tolerances(INT8_ATOL, INT8_RTOL))
    assert [o.name for o in check.outputs] == [o.name for o in model.proto.graph.output]
    shape = (1, 3, 224, 224)
    result = build_engine(quantized, BuildSettings(), [Profile({"input": ShapeRange(shape, shape, shape)})],
                          backend=backend)
    assert result.succeeded, result.problems
    assert result.precision_label == "INT8 (Q/DQ)" and result.engine_bytes > 0


def test_fp8_without_model_optimizer_is_a_clear_error():
    if modelopt_available():
        pytest.skip("nvidia-modelopt is installed here, so FP8 runs")
    model = load_model(CORPUS / CLASSIFIER)
    with pytest.raises(WorkbenchError, match="nvidia-modelopt"):
        quantize(model, [suggested_feeds(model)], mode="fp8")


@pytest.mark.skipif(not modelopt_available(), reason="nvidia-modelopt (optional extra, needs torch) is not installed")
def test_model_optimizer_int8_builds(backend):
    model = load_model(CORPUS / CLASSIFIER)
    quantized = quantize(model, [suggested_feeds(model, seed=s) for s in range(2)], use_modelopt=True)
    shape = (1, 3, 224, 224)
    assert build_engine(quantized, BuildSettings(), [Profile({"input": ShapeRange(shape, shape, shape)})],
                        backend=backend).succeeded


def test_cli_quantize_json_with_engine_sizes(tmp_path):
    done = run_cli("quantize", CORPUS / CLASSIFIER, "--mode", "int8", "--calib-random", "2", "-o",
                   tmp_path / "int8.onnx", "--json", "--build")
    assert done.returncode in (0, 1), done.stderr
    reply = json.loads(done.stdout)
    assert reply["written"] and reply["outputs"] and reply["tolerances"]["reason"]
    assert (tmp_path / "int8.onnx").is_file()
    engines = reply["engines"]
    assert engines["fp32"]["built"] and engines["quantized"]["built"], engines
    assert 0 < engines["quantized"]["bytes"] and 0 < engines["fp32"]["bytes"]
