"""Loading real files, and every kind of bad input, with the message the user sees."""

import hashlib
import shutil

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import SAMPLES
from tests.onnx_factory import conv_model, make_model, save, tensor, weights
from workbench.core.analysis.support import analyze_support
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, load_model, save_model
from workbench.core.onnxruntime_compat import for_onnxruntime, runtime_limits


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_error(path) -> WorkbenchError:
    with pytest.raises(WorkbenchError) as info:
        load_model(path)
    return info.value


def test_summary_of_the_clean_cnn():
    summary = load_model(SAMPLES / "clean_cnn.onnx").summary()
    assert summary.ir_version == 10 and summary.opsets == {"ai.onnx": 17}
    assert summary.producer == "trt-workbench-samples"
    assert summary.node_count == 8 and summary.subgraph_node_count == 0
    assert summary.op_histogram == {"Conv": 2, "Relu": 2, "MaxPool": 1, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    assert [(t.name, t.dtype, t.shape) for t in summary.inputs] == [("images", "float32", ("batch", 3, 64, 64))]
    assert [(t.name, t.shape) for t in summary.outputs] == [("logits", ("batch", 10))]
    expected = 16 * 27 + 16 + 32 * 16 * 9 + 32 + 320 + 10
    assert summary.parameter_count == expected and summary.parameter_bytes == expected * 4
    assert summary.dynamic_inputs == ["images"]


def test_missing_file():
    error = _load_error(SAMPLES / "does_not_exist.onnx")
    assert "File not found" in error.message and "moved or deleted" in error.hint


def test_folder_instead_of_file(tmp_path):
    assert "is a folder" in _load_error(tmp_path).message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert "empty (0 bytes)" in _load_error(path).message


@pytest.mark.parametrize("content, expected", [
    (b"name,value\n1,2\n", "looks like a text file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "looks like a PNG image"),
    (b"PK\x03\x04" + bytes(64), "PyTorch checkpoint"),
])
def test_non_onnx_files_are_named_for_what_they_are(tmp_path, content, expected):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    error = _load_error(path)
    assert "is not an ONNX model" in error.message and expected in error.message
    assert path.read_bytes() == content


def test_truncated_model(tmp_path):
    data = (SAMPLES / "clean_cnn.onnx").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    error = _load_error(path)
    assert "truncated or corrupt" in error.message and "copy or export it again" in error.hint


def test_random_bytes_are_not_onnx(tmp_path):
    path = tmp_path / "noise.onnx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert "not an ONNX model" in _load_error(path).message


def test_empty_graph(tmp_path):
    path = save(make_model([], [tensor("x", [1])], [tensor("x", [1])]), tmp_path / "empty_graph.onnx")
    assert "empty graph" in _load_error(path).message


def _external_model(tmp_path, location="weights.bin"):
    model = conv_model(channels=64)
    path = tmp_path / "ext.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=0)
    return path


def test_external_data_model_loads_and_parses(tmp_path, backend):
    path = _external_model(tmp_path)
    before = _digest(path)
    model = load_model(path)
    assert model.external_data_files() == ["weights.bin"]
    assert model.summary().parameter_bytes == (64 * 27 + 64) * 4
    report = analyze_support(model, backend)
    assert report.fully_supported and report.parser_errors == []
    full = model.full_proto()
    assert all(t.raw_data for t in full.graph.initializer)
    assert _digest(path) == before


def test_missing_external_data_file(tmp_path):
    path = _external_model(tmp_path)
    (tmp_path / "weights.bin").unlink()
    error = _load_error(path)
    assert "'weights.bin'" in error.message and "is missing" in error.message


def test_truncated_external_data_file(tmp_path):
    path = _external_model(tmp_path)
    data = (tmp_path / "weights.bin").read_bytes()
    (tmp_path / "weights.bin").write_bytes(data[:100])
    assert "shorter than the model expects" in _load_error(path).message


def test_external_data_outside_the_model_folder_is_refused(tmp_path):
    inner = tmp_path / "model"
    inner.mkdir()
    path = _external_model(inner)
    shutil.move(inner / "weights.bin", tmp_path / "weights.bin")
    model = onnx.load_model(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for entry in t.external_data:
            if entry.key == "location":
                entry.value = "../weights.bin"
    onnx.save_model(model, str(path))
    error = _load_error(path)
    assert error.message.startswith("Refused") and "outside the model's folder" in error.message


def test_ir_version_newer_than_onnxruntime_is_flagged_and_lowered_safely(backend):
    limits = runtime_limits()
    model = conv_model()
    model.ir_version = limits.max_ir_version + 1
    loaded = LoadedModel.from_proto(model)
    report = analyze_support(loaded, backend)
    compat = [p for p in report.problems if p.kind == "onnxruntime-compat"]
    assert compat and f"IR version {model.ir_version}" in compat[0].message
    import onnxruntime as ort
    lowered = for_onnxruntime(model)
    assert lowered.ir_version <= limits.max_ir_version and model.ir_version == limits.max_ir_version + 1
    session = ort.InferenceSession(lowered.SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.ones((1, 3, 16, 16), np.float32)})[0]
    assert out.shape == (1, 8, 16, 16)


def test_opset_newer_than_onnxruntime_gives_a_clear_error():
    model = conv_model()
    model.opset_import[0].version = runtime_limits().max_opset + 1
    with pytest.raises(WorkbenchError) as info:
        for_onnxruntime(model)
    assert "newer than onnxruntime" in info.value.message and "lower opset" in info.value.hint


def test_save_model_is_atomic_and_protects_the_original(tmp_path):
    original = save(conv_model(), tmp_path / "orig.onnx")
    before = _digest(original)
    with pytest.raises(WorkbenchError) as info:
        save_model(onnx.load(str(original)), original, protect=original)
    assert "Refused to overwrite" in info.value.message and _digest(original) == before
    out = save_model(onnx.load(str(original)), tmp_path / "copy.onnx", protect=original)
    assert load_model(out).summary().node_count == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.onnx", "orig.onnx"]


def test_save_model_with_external_data(tmp_path):
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [tensor("x", [256])],
                       [tensor("y", [256])], [weights("w", (256,))])
    out = save_model(model, tmp_path / "big.onnx", external_data=True)
    assert (tmp_path / "big.onnx.data").stat().st_size == 1024
    assert load_model(out).external_data_files() == ["big.onnx.data"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".trt-workbench-")]


def test_analysis_does_not_touch_the_file(tmp_path, backend):
    path = shutil.copy(SAMPLES / "if_scalar.onnx", tmp_path / "m.onnx")
    before = _digest(path)
    analyze_support(load_model(path), backend)
    assert _digest(path) == before
    assert load_model(path).proto.graph.node[2].op_type == "If"
    assert TensorProto.FLOAT == load_model(path).proto.graph.input[0].type.tensor_type.elem_type
