"""Every real export of the corpus converts to FP16 and BF16 into a valid model: onnx full check, and for FP16 an
onnxruntime run next to the FP32 model. Plus the OCR detector's accuracy with the default keep rules, with trained-size
BatchNormalization statistics, and --auto-keep on it with unnamed nodes (paddle2onnx's older exports)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from tests.conftest import CORPUS, run_cli
from tests.corpus.catalog import CATALOG
from workbench.core.compare.metrics import compare_arrays
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.model.tensor_shapes import weightless_copy
from workbench.core.precision.conversion import FP16_ATOL, FP16_RTOL, convert_with_decisions
from workbench.core.precision.converter import Decision

pytestmark = pytest.mark.slow

MODELS = sorted(str(path.relative_to(CORPUS)) for path in CORPUS.rglob("*.onnx"))
DETECTOR = "text_detector_p2o.onnx"


def _run(proto: onnx.ModelProto, feeds: dict[str, np.ndarray], weights_dir=None) -> dict[str, np.ndarray]:
    """onnxruntime with its default options (every graph optimization), as a user runs the converted file."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if weights_dir is not None:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(weights_dir))
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    inputs = {i.name: feeds[i.name].astype(np.float16 if i.type == "tensor(float16)" else feeds[i.name].dtype)
              for i in session.get_inputs()}
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))


def _catalog_feeds(model: LoadedModel, name: str) -> dict[str, np.ndarray]:
    """Seeded random inputs at the catalog's realistic shapes (the shape service is tested elsewhere; its probes
    would cost most of this file's time): switch/bool values and integer domains as the catalog states them."""
    entry = CATALOG[name]
    rng = np.random.default_rng(0)
    weights = {t.name for t in model.proto.graph.initializer}
    feeds = {}
    for value in model.proto.graph.input:
        if value.name in weights:
            continue
        shape = entry["realistic"][value.name]
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        if value.name in entry.get("values", {}):
            feeds[value.name] = np.full(shape, entry["values"][value.name], dtype)
        elif np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.standard_normal(shape).astype(dtype)
        else:
            low, high = entry.get("value_domains", {}).get(value.name, [0, 1])
            feeds[value.name] = rng.integers(low, high + 1, size=shape).astype(dtype)
    return feeds


@pytest.fixture(scope="module")
def fp32_runs():
    """name → (model, feeds, FP32 outputs), each model loaded and run once."""
    cache = {}

    def get(name: str):
        if name not in cache:
            model = load_model(CORPUS / name)
            feeds = _catalog_feeds(model, name)
            cache[name] = model, feeds, _run(model.proto, feeds, model.weights_dir)
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_fp16_conversion_of_every_corpus_model_loads_and_runs_in_onnxruntime(name, fp32_runs):
    model, feeds, expected = fp32_runs(name)
    converted, conversion = convert_with_decisions(model, "fp16")  # judged (checker, onnxruntime) or refused
    assert any(d.converted for d in conversion.decisions.values()), conversion.reasons
    actual = _run(converted.proto, feeds)
    assert list(actual) == list(expected)  # the same outputs, float32 as before (graph I/O stays float32)
    for output, value in actual.items():
        assert value.dtype == expected[output].dtype and value.ndim == expected[output].ndim, output
        if value.dtype == np.float32 and value.shape == expected[output].shape:
            # float16 may round an output, but never turns a finite FP32 value into inf/NaN (out-of-range
            # constants such as an attention mask's float32 minimum stay FP32 by rule)
            assert np.count_nonzero(~np.isfinite(value)) <= np.count_nonzero(~np.isfinite(expected[output])), output


@pytest.mark.parametrize("name", MODELS)
def test_bf16_conversion_of_every_corpus_model_passes_the_full_onnx_check(name):
    """onnxruntime's CPU provider has no bfloat16 kernels (MatMul, Add, Conv … NOT_IMPLEMENTED), so BF16 is judged by
    the onnx checker with strict shape inference; ops whose ONNX schema has no bfloat16 form at the model's opset
    (Conv before opset 22) stay FP32 by rule, which is what keeps the result valid."""
    model = load_model(CORPUS / name)
    converted, conversion = convert_with_decisions(model, "bf16")
    onnx.checker.check_model(weightless_copy(converted.proto), full_check=True)
    assert all(d.converted or d is not Decision.CONVERTED for d in conversion.decisions.values())


def test_a_float16_batch_transpose_into_matmul_stays_fp32_so_onnxruntime_does_not_crash(tmp_path):
    """onnxruntime 1.32's CPU optimizer (ORT_ENABLE_ALL) segfaults on Transpose(perm 1,0,2) → MatMul in float16 (seen
    on 5 corpus exports: GRU/LSTM/seq-first transformers; onnxconverter-common's output crashed it too). The
    converter keeps that Transpose FP32; the session is created in a child process, so a crash fails the test."""
    import subprocess
    import sys

    from onnx import TensorProto

    weight = numpy_helper.from_array(np.ones((8, 5), np.float32), "w")
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0, 2], name="seq_first"),
             helper.make_node("MatMul", ["t", "w"], ["y"], name="project")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5])], [weight])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 9
    converted, conversion = convert_with_decisions(LoadedModel.from_proto(proto), "fp16")
    assert conversion.decisions["seq_first"] is Decision.ONNXRUNTIME_CRASH and conversion.decisions["project"].converted
    path = tmp_path / "converted.onnx"
    onnx.save(converted.proto, str(path))
    child = subprocess.run([sys.executable, "-c", "import onnxruntime as ort, numpy as np; "
                            f"s = ort.InferenceSession({str(path)!r}, providers=['CPUExecutionProvider']); "
                            "print(s.run(None, {'x': np.ones((3, 2, 8), np.float32)})[0].sum())"],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and float(child.stdout) == 2 * 3 * 5 * 8, child.stderr


def _cosine(expected: np.ndarray, actual: np.ndarray) -> float:
    return compare_arrays("out", expected, actual, FP16_ATOL, FP16_RTOL).cosine


def test_the_ocr_detector_in_fp16_with_the_default_keep_rules_matches_fp32(fp32_runs):
    model, feeds, expected = fp32_runs(DETECTOR)
    converted, _ = convert_with_decisions(model, "fp16")
    [name] = expected
    cosine = _cosine(expected[name], _run(converted.proto, feeds)[name])
    assert cosine > 0.9999, cosine  # measured: 1.000000 (max abs 1e-3 on a sigmoid map)


@pytest.mark.parametrize("scale", [1000.0, 3000.0])
def test_trained_size_normalization_statistics_survive_the_conversion(scale, fp32_runs):
    """Trained BatchNormalization variances reach 1e4 and more; onnxconverter-common clamped every weight to ±1e4
    (the OCR detector lost its output that way: cosine 0.05). Here the detector's head BatchNormalization is
    re-parametrised to the same function with variance × scale² (scale 1000: ~3e4, within float16; scale 3000:
    ~3e5, beyond float16, so the node stays FP32 by rule) and the FP16 model must still match."""
    model, feeds, _ = fp32_runs(DETECTOR)
    proto = model.full_proto()
    producers = {node.output[0]: node for node in proto.graph.node}
    norm = next(node for node in proto.graph.node if node.op_type == "BatchNormalization")
    epsilon = next(a.f for a in norm.attribute if a.name == "epsilon")
    weight, variance = (producers[norm.input[i]].attribute[0].t for i in (1, 4))
    values = numpy_helper.to_array(variance)
    variance.CopyFrom(numpy_helper.from_array((scale ** 2 * (values + epsilon) - epsilon).astype(np.float32),
                                              variance.name))
    weight.CopyFrom(numpy_helper.from_array((numpy_helper.to_array(weight) * scale).astype(np.float32), weight.name))
    trained = LoadedModel.from_proto(proto, model.path)
    expected = _run(trained.proto, feeds)
    converted, conversion = convert_with_decisions(trained, "fp16")
    beyond = bool(np.max(numpy_helper.to_array(variance)) > np.finfo(np.float16).max)
    assert (conversion.decisions[norm.name] is Decision.OUT_OF_RANGE) is beyond
    [name] = expected
    assert _cosine(expected[name], _run(converted.proto, feeds)[name]) > 0.9999


def test_auto_keep_succeeds_on_the_ocr_detector_with_unnamed_nodes(tmp_path):
    """The bisect converts the model many times; unnamed nodes once gave the converter's Casts one name
    ("two nodes with same node name (_output_cast0)")."""
    proto = onnx.load(str(CORPUS / DETECTOR))
    for node in proto.graph.node:
        node.name = ""
    source = tmp_path / "unnamed_detector.onnx"
    onnx.save(proto, str(source))
    done = run_cli("convert", source, "--to", "fp16", "--auto-keep", "--shape", "x:1x3x320x320",
                   "-o", tmp_path / "fp16.onnx", "--json")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["within_tolerance"] and reply["bisect_runs"] >= 1
    written = onnx.load(str(tmp_path / "fp16.onnx"))
    names = [node.name for node in written.graph.node]
    assert all(names) and len(names) == len(set(names))
