"""Engines whose outputs have data-dependent shapes (NonZero, NMS): the TensorRT runner hands TensorRT an
``IOutputAllocator`` instead of refusing. The allocator is checked against the real TensorRT bindings here;
running such an engine needs a GPU and a backend that builds the op (full TensorRT has NonZero,
TensorRT-RTX 1.7.1 has no importer for it), so that test skips elsewhere and says which is missing."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from workbench.core.build.engine import BuildSettings, build_engine
from workbench.core.runners import TensorRTRunner, make_output_allocator
from workbench.core.model.loading import LoadedModel


def test_the_allocator_is_a_tensorrt_output_allocator_fed_by_the_runner_buffers(backend):
    requests = []

    def device_buffer(name, nbytes):
        requests.append((name, nbytes))
        return 4096 * len(requests)

    allocator = make_output_allocator(backend.trt, device_buffer)
    assert isinstance(allocator, backend.trt.IOutputAllocator)
    pointer = allocator.reallocate_output_async("indices", 0, 48, 256, 0)
    allocator.notify_shape("indices", backend.trt.Dims([2, 3]))
    assert pointer == 4096 and requests == [("indices", 48)]
    assert allocator.buffers["indices"] == (4096, 48) and allocator.shapes["indices"] == (2, 3)
    assert allocator.reallocate_output("empty", 0, 0, 256) == 8192 and requests[-1] == ("empty", 1)


def _nonzero_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Greater", ["x", "zero"], ["mask"]), helper.make_node("NonZero", ["mask"], ["indices"])],
        "nonzero", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 5])],
        [helper.make_tensor_value_info("indices", TensorProto.INT64, [2, "count"])],
        [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.mark.gpu
def test_data_dependent_outputs_run_on_a_gpu(backend, tmp_path):
    support = backend.engine_support()
    if not support.can_run:
        pytest.skip(f"running an engine needs a usable GPU: {support.reason}")
    model = LoadedModel.from_proto(_nonzero_model())
    built = build_engine(model, BuildSettings(), [], tmp_path / "nonzero.engine", backend=backend)
    if not built.succeeded:
        pytest.skip(f"{backend.name} {backend.version} cannot build NonZero: {built.problems[0].message}")
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    runner = TensorRTRunner(tmp_path / "nonzero.engine", backend)
    try:
        indices = runner.run({"x": x})["indices"]
    finally:
        runner.close()
    np.testing.assert_array_equal(indices, np.stack(np.nonzero(x > 0)))
