"""The TensorRT backend layer: the only module that knows which TensorRT is installed.

Full ``tensorrt`` (10.x/11.x, datacenter GPUs) is preferred when importable; otherwise
``tensorrt_rtx``, whose parser and builder also run on machines without a GPU. Every difference
between the two packages is decided here, so the rest of the core asks this module questions
(``backend.strongly_typed_only``, ``backend.engine_support()``) instead of checking names.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import sys
import threading
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import Any, Callable

from workbench.core.errors import WorkbenchError

BACKEND_CHOICES = ("auto", "tensorrt", "tensorrt-rtx")
_MODULES = {"tensorrt": "tensorrt", "tensorrt-rtx": "tensorrt_rtx"}

# TensorRT-RTX engines run on these compute capabilities only (it refuses e.g. Hopper, sm_90).
RTX_RUNNABLE_MAJOR_MINOR = {(8, 0), (8, 6), (8, 9)}
RTX_RUNNABLE_MIN_MAJOR = 12
# Full TensorRT 10.x supports Turing (7.5) and newer.
TENSORRT_MIN_COMPUTE_CAPABILITY = (7, 5)
# TensorRT 11 removed weak typing (the FP16/BF16/INT8/FP8 builder flags, per-layer precision, the INT8
# calibrator): from then on precision comes from the ONNX model's types and Q/DQ nodes, as on TensorRT-RTX.
LAST_WEAKLY_TYPED_MAJOR = 10


def major_version(version: str) -> int:
    """The major number of a TensorRT version string ("10.13.3.9" → 10)."""
    head = version.split(".", 1)[0]
    if not head.isdigit():
        raise WorkbenchError(f"Unrecognised TensorRT version {version!r}.", "Reinstall TensorRT.")
    return int(head)


def is_strongly_typed_only(name: str, version: str) -> bool:
    """Whether every network of this TensorRT flavour and version takes precision from the model's types."""
    return name == "tensorrt-rtx" or major_version(version) > LAST_WEAKLY_TYPED_MAJOR


def unavailable_precision_options(name: str, version: str, flag_names: set[str]) -> dict[str, str]:
    """Precision options ("precision:bf16", "precision_by_flag") a TensorRT lacks → why.

    ``flag_names`` are the precision builder flags the installed module has. FP16 on a strongly
    typed TensorRT is available through converting the model, so it is never listed.
    """
    title = "TensorRT-RTX" if name == "tensorrt-rtx" else f"TensorRT {version}"
    if not is_strongly_typed_only(name, version):
        return {f"precision:{flag}": f"{title} has no {flag.upper()} builder flag."
                for flag in ("bf16", "int8", "fp8") if flag not in flag_names}
    typed = f"{title} networks are strongly typed (precision comes from the model's types)"
    return {
        "precision:bf16": f"{typed} and have no BF16 builder flag; the workbench converts models to FP16 only. "
                          "Export a BF16 model to build in BF16.",
        "precision:int8": f"{typed}: INT8 comes from Q/DQ nodes in the model, not from a builder flag.",
        "precision:fp8": f"{typed}: FP8 comes from Q/DQ nodes in the model, not from a builder flag.",
        "precision_by_flag": f"{typed}: FP16 means converting the model, there is no FP16 builder flag.",
    }


@dataclass(frozen=True)
class GpuStatus:
    """What the CUDA driver says about the first GPU, or why there is none."""

    present: bool
    name: str = ""
    compute_capability: tuple[int, int] | None = None
    reason: str = ""


@dataclass(frozen=True)
class EngineSupport:
    """Whether engines built by this backend can run on this machine, and why not."""

    can_run: bool
    reason: str
    gpu: GpuStatus

    @property
    def blocker(self) -> str:
        """Why engines cannot run here, as one sentence for an error message ("" when they can)."""
        if self.can_run:
            return ""
        return self.reason if self.gpu.present else self.gpu.reason


@dataclass(frozen=True)
class LogMessage:
    severity: str  # "internal_error", "error", "warning", "info", "verbose"
    text: str
    source: str = "tensorrt"


@dataclass
class BackendInfo:
    """Plain description of the active backend, for the status bar, About box and ``--json``."""

    name: str
    version: str
    parser_version: str
    can_run_engines: bool
    reason: str
    gpu: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


_CUDA_DRIVER_LIBRARY = "libcuda.so.1"  # the NVIDIA driver's CUDA library on Linux


@functools.lru_cache(maxsize=1)
def gpu_status() -> GpuStatus:
    """Query the CUDA driver through cuda-python; never raises."""
    if sys.platform.startswith("linux"):
        try:  # milliseconds, where importing cuda-python just to find no driver takes a tenth of a second
            ctypes.CDLL(_CUDA_DRIVER_LIBRARY)
        except OSError as exc:
            return GpuStatus(False, reason=f"No NVIDIA driver found ({type(exc).__name__}); this machine has no "
                                           "usable GPU.")
    try:
        from cuda.bindings import driver
    except ImportError:
        return GpuStatus(False, reason="cuda-python is not installed, so no GPU can be queried.")
    try:
        (err,) = driver.cuInit(0)
    except Exception as exc:  # the driver library itself is missing on GPU-less machines
        return GpuStatus(False, reason=f"No NVIDIA driver found ({type(exc).__name__}); "
                                       "this machine has no usable GPU.")
    if err != driver.CUresult.CUDA_SUCCESS:
        return GpuStatus(False, reason=f"The CUDA driver did not initialise ({err.name}); no usable GPU.")
    err, count = driver.cuDeviceGetCount()
    if err != driver.CUresult.CUDA_SUCCESS or count == 0:
        return GpuStatus(False, reason="The CUDA driver reports no GPU.")
    _, device = driver.cuDeviceGet(0)
    _, raw_name = driver.cuDeviceGetName(64, device)
    attr = driver.CUdevice_attribute
    _, major = driver.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device)
    _, minor = driver.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device)
    name = raw_name.split(b"\0", 1)[0].decode(errors="replace")
    return GpuStatus(True, name=name, compute_capability=(major, minor))


class Backend:
    """One imported TensorRT flavour and the answers that depend on it."""

    def __init__(self, name: str, module: ModuleType):
        self.name = name
        self.trt = module
        self.version = module.__version__
        self._parser_version: str | None = None

    def __repr__(self) -> str:
        return f"Backend({self.name} {self.version})"

    @property
    def is_rtx(self) -> bool:
        return self.name == "tensorrt-rtx"

    @property
    def strongly_typed_only(self) -> bool:
        """TensorRT-RTX and TensorRT ≥ 11 networks are always strongly typed: precision comes from the ONNX types."""
        return is_strongly_typed_only(self.name, self.version)

    @property
    def parser_version(self) -> str:
        if self._parser_version is None:
            getter = getattr(self.trt, "get_nv_onnx_parser_version", None)
            self._parser_version = str(getter()) if getter else ""
        return self._parser_version

    def builder_precision_flags(self) -> dict[str, object]:
        """Precision name → BuilderFlag for weakly typed builds; empty where the backend has none."""
        flags = self.trt.BuilderFlag
        return {name: getattr(flags, attr) for name, attr in
                (("fp16", "FP16"), ("bf16", "BF16"), ("int8", "INT8"), ("fp8", "FP8")) if hasattr(flags, attr)}

    def compute_capability_targets(self) -> list[str]:
        """Names accepted by ``set_compute_capability`` (TensorRT-RTX only)."""
        if not hasattr(self.trt, "ComputeCapability"):
            return []
        return [n for n in self.trt.ComputeCapability.__members__ if n != "NONE"]

    @functools.cached_property
    def plugin_names(self) -> frozenset[str]:
        """Plugin ops the ONNX parser can map nodes to (full TensorRT registers its standard ones on request)."""
        init_plugins = getattr(self.trt, "init_libnvinfer_plugins", None)
        if init_plugins is not None:
            init_plugins(None, "")
        registry = self.trt.get_plugin_registry()
        creators = getattr(registry, "all_creators", None) or registry.plugin_creator_list
        return frozenset(creator.name for creator in creators)

    def unavailable_build_options(self) -> dict[str, str]:
        """Build options (``BuildSettings`` names, precisions as "precision:fp16") this backend lacks → why.

        FP16 on TensorRT-RTX is available through converting the model, so it is not listed.
        """
        missing = unavailable_precision_options(self.name, self.version, set(self.builder_precision_flags()))
        if self.is_rtx:
            missing.update({
                "hardware_compatibility": "TensorRT-RTX does not support hardware-compatibility levels; choose "
                                          "compute-capability targets instead.",
                "version_compatible": "TensorRT-RTX cannot build version-compatible engines (it has no lean runtime).",
                "timing_cache": "Timing-cache operations are no-ops in TensorRT-RTX (deprecated since 1.2).",
            })
        else:
            missing["compute_capabilities"] = ("Only TensorRT-RTX builds for chosen compute capabilities; full "
                                               "TensorRT builds for the GPU it runs on.")
        return missing

    def engine_support(self, gpu: GpuStatus | None = None) -> EngineSupport:
        """Whether this backend's engines run on ``gpu`` (default: this machine's first GPU)."""
        gpu = gpu or gpu_status()
        cc = gpu.compute_capability
        if not gpu.present or cc is None:
            return EngineSupport(False, f"Engines cannot run here: {gpu.reason} Parsing and building still work.", gpu)
        if self.is_rtx:
            ok = cc in RTX_RUNNABLE_MAJOR_MINOR or cc[0] >= RTX_RUNNABLE_MIN_MAJOR
            if not ok:
                return EngineSupport(False, f"{gpu.name} has compute capability {cc[0]}.{cc[1]}, which TensorRT-RTX "
                                            "cannot run (it supports 8.0, 8.6, 8.9 and 12.x). Install full TensorRT "
                                            "to run engines on this GPU.", gpu)
        elif cc < TENSORRT_MIN_COMPUTE_CAPABILITY:
            return EngineSupport(False, f"{gpu.name} (compute capability {cc[0]}.{cc[1]}) is older than TensorRT "
                                        f"{self.version} supports.", gpu)
        return EngineSupport(True, f"{gpu.name} (compute capability {cc[0]}.{cc[1]}) can run engines.", gpu)

    def info(self) -> BackendInfo:
        support = self.engine_support()
        return BackendInfo(self.name, self.version, self.parser_version, support.can_run, support.reason,
                           asdict(support.gpu))

    def logger(self, sink: Callable[[LogMessage], None] | None = None,
               min_severity: str = "verbose"):
        """An ``ILogger`` that keeps every message (``.messages``) and forwards each to ``sink``."""
        return _logger_class(self.trt)(sink, min_severity)

    def create_builder_network(self, logger, strongly_typed: bool = False):
        """A fresh builder + empty network + ONNX parser bound to ``logger``.

        Each parse needs its own trio: ``supports_model_v2`` fills the parser's network, and a
        later ``parse`` into the same network fails with "non-empty network definition".
        """
        trt = self.trt
        builder = trt.Builder(logger)
        flags = 0
        # TensorRT ≥ 11 networks are strongly typed without the (deprecated, then removed) flag.
        if strongly_typed and not self.is_rtx and hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
            flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        return builder, network, parser

    def engine_blocker(self, data: bytes, runtime=None) -> str:
        """Why a serialized engine cannot run here, in words for the user ("" when nothing is known).

        Checks, in order: the file's header (another backend's engines never load), the GPU
        (``engine_support``), then the runtime's own validity check when it has one and a GPU answers.
        """
        owner = ENGINE_MAGIC.get(bytes(data[:4]))
        if owner is None:
            return "the file is not a TensorRT engine (it lacks a TensorRT plan header)."
        if owner != self.name:
            return (f"it was built by {owner}, but the active backend is {self.name} {self.version}; "
                    f"engines only load in the TensorRT flavour that built them (use --backend {owner}).")
        support = self.engine_support()
        if not support.can_run:
            return support.blocker
        if runtime is not None and hasattr(runtime, "get_engine_validity"):
            validity, diagnostics = runtime.get_engine_validity(data)
            if validity == self.trt.EngineValidity.INVALID:
                bits = self.trt.EngineInvalidityDiagnostics.__members__
                found = [text for name, text in _ENGINE_DIAGNOSTICS.items()
                         if name in bits and diagnostics & int(bits[name])]
                reasons = "; ".join(found or ["the runtime rejected it"])
                return reasons.format(backend=self.name, version=self.version) + "."
        return ""


# First bytes of a serialized engine, by the backend that wrote it.
ENGINE_MAGIC = {b"ftrt": "tensorrt", b"vtrt": "tensorrt-rtx"}
# TensorRT-RTX's EngineInvalidityDiagnostics bits, in words.
_ENGINE_DIAGNOSTICS = {
    "VERSION_MISMATCH": "it was built by another {backend} version than the installed {version}",
    "UNSUPPORTED_CC": "it was not built for this GPU's compute capability (rebuild with the CURRENT target)",
    "OLD_CUDA_DRIVER": "the NVIDIA driver is too old for it",
    "OLD_CUDA_RUNTIME": "the CUDA runtime is too old for it",
    "INSUFFICIENT_GPU_MEMORY": "the GPU has too little free memory for it",
    "MALFORMED_ENGINE": "the file is corrupt or truncated",
    "CUDA_ERROR": "CUDA reported an error while checking it",
}

_SEVERITY_ORDER = ["internal_error", "error", "warning", "info", "verbose"]


@functools.lru_cache(maxsize=None)
def _logger_class(trt: ModuleType):
    # The ILogger base class belongs to the imported module, so the subclass is made per backend.
    severity_names = {
        trt.ILogger.INTERNAL_ERROR: "internal_error",
        trt.ILogger.ERROR: "error",
        trt.ILogger.WARNING: "warning",
        trt.ILogger.INFO: "info",
        trt.ILogger.VERBOSE: "verbose",
    }

    # TensorRT ships no stubs: ILogger is an untyped base class, the imported module's own.
    logger_base: Any = trt.ILogger

    class CapturingLogger(logger_base):
        def __init__(self, sink, min_severity):
            trt.ILogger.__init__(self)
            self.messages: list[LogMessage] = []
            self._sink = sink
            self._lock = threading.Lock()
            self._max_rank = _SEVERITY_ORDER.index(min_severity)

        def log(self, severity, msg):
            name = severity_names.get(severity, "info")
            if _SEVERITY_ORDER.index(name) > self._max_rank:
                return
            message = LogMessage(name, msg)
            with self._lock:
                self.messages.append(message)
            if self._sink is not None:
                self._sink(message)

        def errors(self) -> list[str]:
            return [m.text for m in self.messages if m.severity in ("error", "internal_error")]

    return CapturingLogger


def import_backend(choice: str = "auto") -> Backend:
    """Import the requested TensorRT flavour ("auto" prefers full TensorRT). Callers ask the runtime
    (``runtime.load_backend``), which keeps one ``Backend`` per flavour."""
    if choice not in BACKEND_CHOICES:
        raise WorkbenchError(f"Unknown backend {choice!r}.", f"Choose one of: {', '.join(BACKEND_CHOICES)}.")
    names = ["tensorrt", "tensorrt-rtx"] if choice == "auto" else [choice]
    failures = []
    for name in names:
        try:
            module = importlib.import_module(_MODULES[name])
            _ = module.__version__  # the tensorrt stub wheel imports but has no libraries behind it
        except Exception as exc:  # ImportError, or OSError from missing shared libraries
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        return Backend(name, module)
    raise WorkbenchError(
        "No usable TensorRT backend could be imported.",
        "Install TensorRT-RTX with `pip install tensorrt-rtx`, or NVIDIA's full TensorRT.",
        "\n".join(failures),
    )
