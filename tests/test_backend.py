"""The backend layer, against the TensorRT actually installed."""

import pytest

from workbench.core.backend import gpu_status, load_backend
from workbench.core.errors import WorkbenchError


def test_auto_picks_an_installed_backend(backend):
    assert backend.name in ("tensorrt", "tensorrt-rtx")
    assert backend.version and backend.trt.__version__ == backend.version
    assert load_backend("auto") is backend


def test_explicit_rtx_backend_is_strongly_typed_with_compute_capability_targets():
    rtx = load_backend("tensorrt-rtx")
    assert rtx.is_rtx and rtx.strongly_typed_only
    assert "SM86" in rtx.compute_capability_targets()
    assert "fp16" not in rtx.builder_precision_flags()


def test_unknown_backend_name():
    with pytest.raises(WorkbenchError) as info:
        load_backend("onnx-tensorrt")
    assert "Unknown backend" in info.value.message and "tensorrt-rtx" in info.value.hint


def test_engine_support_reason_matches_the_gpu(backend):
    support = backend.engine_support()
    gpu = gpu_status()
    assert support.gpu == gpu
    if not gpu.present:
        assert not support.can_run and "Parsing and building still work" in support.reason
    info = backend.info().to_dict()
    assert set(info) >= {"name", "version", "can_run_engines", "reason"}


def test_logger_captures_real_parser_messages(backend, samples):
    seen = []
    logger = backend.logger(seen.append)
    _builder, _network, parser = backend.create_builder_network(logger)
    assert parser.parse((samples / "if_scalar.onnx").read_bytes()) is False
    assert logger.messages and seen == logger.messages
    assert any("down/resize" in m.text for m in logger.messages if m.severity == "error")
