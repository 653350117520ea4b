"""Loading and analysing in a child process; decoding big models in slices."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import onnx
import pytest
from google.protobuf.message import DecodeError
from onnx import TensorProto, helper, numpy_helper

from workbench.core.analysis.background import analysis_child, load_and_analyze, reanalyze
from workbench.core.isolation.child_process import ChildProcess
from workbench.core.model.chunked_parse import parse_model_in_chunks
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.progress import Cancelled, CancelToken


@pytest.fixture(scope="module")
def child():
    process = analysis_child("auto")
    yield process
    process.close()


def _weighty_model() -> onnx.ModelProto:
    weights = [numpy_helper.from_array(np.full((64, 64), i, np.float32), f"w{i}") for i in range(6)]
    nodes = [helper.make_node("MatMul", ["x" if i == 0 else f"h{i - 1}", f"w{i}"], [f"h{i}"], name=f"mm{i}")
             for i in range(6)]
    graph = helper.make_graph(nodes, "weighty", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("h5", TensorProto.FLOAT, [1, 64])], weights)
    return helper.make_model(graph, ir_version=10, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("chunk_bytes", [1, 100, 20_000, 1 << 30])
def test_sliced_decoding_equals_one_parse(samples, chunk_bytes):
    for data in [(samples / "if_scalar.onnx").read_bytes(), _weighty_model().SerializeToString()]:
        whole = onnx.ModelProto()
        whole.ParseFromString(data)
        assert parse_model_in_chunks(data, chunk_bytes) == whole


def test_sliced_decoding_rejects_truncated_data():
    data = _weighty_model().SerializeToString()
    with pytest.raises(DecodeError):
        parse_model_in_chunks(data[: len(data) - 100], 1000)


def test_load_and_analyze_in_the_child(child, samples, backend):
    model, report = load_and_analyze(samples / "if_scalar.onnx", child)
    assert model.serialized == load_model(samples / "if_scalar.onnx").serialized
    assert model.proto == load_model(samples / "if_scalar.onnx").proto
    assert any(p.kind == "parser-error" and p.node == "down/resize" for p in report.problems)
    assert report.backend.version == backend.version
    fixed = LoadedModel.from_proto(load_model(samples / "clean_cnn.onnx").full_proto())
    assert not any(p.stage == "parse" for p in reanalyze(fixed, child).problems)


def test_bad_file_error_keeps_message_hint_and_detail(child, tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("these are my notes, not a model")
    with pytest.raises(WorkbenchError) as error:
        load_and_analyze(bad, child)
    assert error.value.message == "notes.onnx is not an ONNX model: it looks like a text file."
    assert error.value.hint == "Open a .onnx file exported from your framework."
    assert bad.read_text() == "these are my notes, not a model"


def test_a_crashing_child_becomes_an_error_and_the_next_call_works():
    process = ChildProcess()
    try:
        with pytest.raises(WorkbenchError, match="exited with code 3"):
            process.call(os._exit, 3, what="The test call")
        assert process.call(divmod, 7, 2) == (3, 1)
    finally:
        process.close()


def test_cancel_kills_the_running_call():
    process = ChildProcess()
    token = CancelToken()
    try:
        threading.Timer(0.3, token.cancel).start()
        started = time.monotonic()
        with pytest.raises(Cancelled):
            process.call(time.sleep, 60, cancel=token)
        assert time.monotonic() - started < 30
        assert process.call(divmod, 9, 4) == (2, 1)
    finally:
        process.close()
