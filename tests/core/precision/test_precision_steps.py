"""Precision as recipe steps: convert-precision to BF16 and quantize, applied and replayed by the CLI."""

from __future__ import annotations

import json

import tomli_w
from onnx import TensorProto

from tests.conftest import run_cli
from tests.corpus.catalog import CATALOG
from tests.corpus.test_corpus import CORPUS
from workbench.core.fixes.apply import apply_fix, make_step
from workbench.core.model.loading import load_model

SENSITIVE = "sensor_centering_ts.onnx"


def test_bf16_step_is_validated_without_onnxruntime_kernels_and_keeps_the_weights():
    model = load_model(CORPUS / SENSITIVE)
    keep = CATALOG[SENSITIVE]["facts"]["bf16_sensitive"]
    result = apply_fix(model, make_step("convert-precision", {"to": "bf16", "keep": ";".join(keep)}))
    assert "no bfloat16 kernels" in result.validation.not_checkable
    types = {init.name: init.data_type for init in result.after.full_proto().graph.initializer}
    assert types["head.weight"] == TensorProto.BFLOAT16 and types["level"] == TensorProto.FLOAT  # /Add kept


def test_cli_replays_a_recipe_with_a_bf16_conversion_and_a_quantize_step(tmp_path):
    keep = CATALOG[SENSITIVE]["facts"]["bf16_sensitive"]
    recipe = tmp_path / "precision.toml"
    recipe.write_text(tomli_w.dumps({"version": 1, "fixes": [
        {"name": "convert-precision", "params": {"to": "bf16", "keep": keep}}]}))
    done = run_cli("fix", CORPUS / SENSITIVE, "--recipe", recipe, "-o", tmp_path / "bf16.onnx", "--json")
    assert done.returncode == 0, done.stderr
    assert "no bfloat16 kernels" in json.loads(done.stdout)["steps"][0]["validation"]["not_checkable"]
    written = load_model(tmp_path / "bf16.onnx").proto
    assert TensorProto.BFLOAT16 in {init.data_type for init in written.graph.initializer}

    recipe.write_text(tomli_w.dumps({"version": 1, "fixes": [
        {"name": "quantize", "params": {"mode": "int8", "samples": 2, "exclude": ["Gemm"]}}]}))
    done = run_cli("fix", CORPUS / "l2_embedding_ts.onnx", "--recipe", recipe, "-o", tmp_path / "int8.onnx",
                   "--no-parity")  # INT8 is judged against INT8 tolerances by `quantize`, not FP32 parity
    assert done.returncode == 0, done.stderr
    quantized = load_model(tmp_path / "int8.onnx").proto
    ops = {node.op_type for node in quantized.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    gemm_inputs = {name for node in quantized.graph.node if node.op_type == "Gemm" for name in node.input}
    assert {"project.weight", "project.bias"} <= gemm_inputs  # the excluded Gemm keeps its float weights
