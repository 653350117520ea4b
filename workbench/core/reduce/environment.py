"""The environment section of a bug report: TensorRT flavour and version, GPU, driver, CUDA, libraries, OS."""

from __future__ import annotations

import platform
import sys

from workbench.core.backend import Backend, gpu_status


def _cuda_driver_version() -> str:
    """The CUDA version the driver supports ("12.8"), "" when it cannot be asked."""
    try:
        from cuda.bindings import driver

        err, version = driver.cuDriverGetVersion()
    except Exception:  # noqa: BLE001 - no cuda-python or no driver: the GPU line says why
        return ""
    return f"{version // 1000}.{version % 1000 // 10}" if err == driver.CUresult.CUDA_SUCCESS else ""


def environment_lines(backend: Backend) -> list[str]:
    import onnx
    import onnxruntime

    gpu = gpu_status()
    if gpu.present:
        cc = ".".join(map(str, gpu.compute_capability or ()))
        cuda = _cuda_driver_version()
        gpu_text = f"{gpu.name} (compute capability {cc}); driver CUDA {cuda or 'unknown'}"
    else:
        gpu_text = f"none ({gpu.reason})"
    return [f"TensorRT: {backend.name} {backend.version} (Python module {backend.trt.__name__})",
            f"ONNX parser: {backend.parser_version}",
            f"GPU / driver / CUDA: {gpu_text}",
            f"onnx: {onnx.__version__}",
            f"onnxruntime: {onnxruntime.__version__}",
            f"OS: {platform.platform()}",
            f"Python: {sys.version.split()[0]}"]
