"""The backend layer, against the TensorRT actually installed."""

import pytest

from workbench.core.backend import RTX_RUNNABLE_MAJOR_MINOR, RTX_RUNNABLE_MIN_MAJOR, GpuStatus, gpu_status
from workbench.core.errors import WorkbenchError
from workbench.core.runtime import load_backend


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
    assert support.can_run != bool(support.blocker)
    info = backend.info().to_dict()
    assert set(info) >= {"name", "version", "can_run_engines", "reason"}


def test_logger_captures_real_parser_messages(backend, samples):
    seen = []
    logger = backend.logger(seen.append)
    _builder, _network, parser = backend.create_builder_network(logger)
    assert parser.parse((samples / "if_scalar.onnx").read_bytes()) is False
    assert logger.messages and seen == logger.messages
    assert any("down/resize" in m.text for m in logger.messages if m.severity == "error")


NO_GPU = GpuStatus(False, reason="No NVIDIA driver found (RuntimeError); this machine has no usable GPU.")
GPUS = {  # the hosts users have: none, one TensorRT-RTX refuses (Hopper), ones it runs on
    "none": NO_GPU,
    "H100": GpuStatus(True, "NVIDIA H100 80GB HBM3", (9, 0)),
    "A100": GpuStatus(True, "NVIDIA A100-SXM4-40GB", (8, 0)),
    "RTX 4090": GpuStatus(True, "NVIDIA GeForce RTX 4090", (8, 9)),
    "RTX 5090": GpuStatus(True, "NVIDIA GeForce RTX 5090", (12, 0)),
}


@pytest.mark.parametrize("host", list(GPUS))
def test_tensorrt_rtx_engine_support_on_every_kind_of_host(host):
    """Decided from the GPU the driver reports, so every host kind is checked on any machine."""
    gpu = GPUS[host]
    support = load_backend("tensorrt-rtx").engine_support(gpu)
    runnable = gpu.present and (gpu.compute_capability in RTX_RUNNABLE_MAJOR_MINOR
                                or gpu.compute_capability[0] >= RTX_RUNNABLE_MIN_MAJOR)
    assert support.can_run == runnable and support.gpu == gpu
    if not gpu.present:
        assert support.blocker == gpu.reason
    elif not runnable:  # the GPU is named with its compute capability and what to do
        assert gpu.name in support.blocker and "9.0" in support.blocker and "Install full TensorRT" in support.blocker
    else:
        assert support.blocker == "" and gpu.name in support.reason
    if host == "H100":  # what users saw there, word for word
        assert support.blocker == ("NVIDIA H100 80GB HBM3 has compute capability 9.0, which TensorRT-RTX cannot run "
                                   "(it supports 8.0, 8.6, 8.9 and 12.x). Install full TensorRT to run engines on "
                                   "this GPU.")
