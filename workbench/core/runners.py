"""Runners: one small interface for everything that turns input arrays into output arrays.

A runner has ``label``, ``input_names``, ``output_names``, ``input_dtype(name)``, ``run(feeds)``
and ``close()``. ``OnnxruntimeRunner`` is the reference; ``TensorRTRunner`` runs a serialized
engine on the GPU through cuda-python and says in plain words why it cannot where it cannot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np
import onnx

from workbench.core.backend import Backend
from workbench.core.errors import WorkbenchError
from workbench.core.isolation.child_process import ChildProcess
from workbench.core.model.loading import LoadedModel
from workbench.core.onnxruntime_compat import for_onnxruntime
from workbench.core.problems import concise_message
from workbench.core.runtime import current_runtime
from workbench.core.third_party_logs import session_options


class Runner(Protocol):
    label: str
    input_names: list[str]
    output_names: list[str]

    def input_dtype(self, name: str) -> np.dtype: ...

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


# Models with this many bytes of weights run under onnxruntime in a child process when the caller is
# the window (shape probes, parity): onnxruntime's copy of the weights, and a native crash should one
# happen, stay out of it. Smaller ones run in-process, where no child's start-up (~1 s) is added.
RUN_IN_CHILD_ABOVE = 100_000_000
# onnxruntime's message when a capped arena refuses an allocation ("Available memory of … is smaller than
# requested bytes of …"): the run stopped at the cap, the machine's memory was never at risk.
ARENA_REFUSAL = "is smaller than requested bytes of"
# Grow the arena by what a run asks, not the next power of two: doubling would stop a run well below the cap.
_SAME_AS_REQUESTED = 1
# The cap of onnxruntime's process-wide CPU arena once registered (see _capped_arena); None before.
_arena_cap: int | None = None


def runs_in_child(*models: LoadedModel) -> bool:
    return any(m.summary().parameter_bytes >= RUN_IN_CHILD_ABOVE for m in models)


def onnxruntime_child() -> ChildProcess:
    """The child for those runs, owned by the runtime: each call gets a fresh process (no state leaks from one
    model to the next)."""
    return current_runtime().child_process("onnxruntime", lambda: ChildProcess(one_call_per_child=True))


def model_for_child(model: LoadedModel) -> tuple:
    """What a child needs to rebuild ``model`` without its weights: bytes, path, weights folder."""
    return model.serialized, str(model.path) if model.path else None, str(model.weights_dir) if model.weights_dir \
        else None


def model_in_child(serialized: bytes, path: str | None, weights_dir: str | None) -> LoadedModel:
    proto = onnx.ModelProto()
    proto.ParseFromString(serialized)
    return LoadedModel(proto, serialized, Path(path) if path else None, Path(weights_dir) if weights_dir else None)


class ClosingRunner(ABC):
    """``with runner: …`` closes it, whatever happens inside (Polygraphy's runners work the same way)."""

    def __enter__(self) -> Self:
        return self

    @abstractmethod
    def close(self) -> None: ...

    def __exit__(self, *_exc) -> None:
        self.close()


class OnnxruntimeRunner(ClosingRunner):
    """The reference: onnxruntime on the CPU (the CUDA provider when this onnxruntime has it)."""

    name = "onnxruntime"

    def __init__(self, model: LoadedModel, providers: list[str] | None = None, extra_outputs: Sequence[str] = (),
                 quick: bool = False, memory_cap: int | None = None):
        """``quick``: no graph optimizations and one thread, for short-lived sessions (shape probes) that run beside
        TensorRT's parser: the optimizer's passes cost more at session creation than they save in a few runs.
        ``memory_cap``: the bytes a run may allocate (CPU only); a run that needs more fails with
        ``ARENA_REFUSAL`` in its detail instead of taking the machine's memory (``self.memory_cap`` is the cap
        in force: onnxruntime has one such arena per process, capped by the first runner that asks)."""
        import onnxruntime as ort

        # onnxruntime reads the weights the model keeps on disk itself (from weights_dir), so this process
        # never holds a second copy of them.
        proto = for_onnxruntime(model.proto)
        if not extra_outputs and proto is model.proto:
            serialized = model.serialized
        else:
            serialized = (_with_outputs(proto, extra_outputs) if extra_outputs else proto).SerializeToString()
        available = ort.get_available_providers()
        self.providers = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        self.label = f"onnxruntime ({model.name})"
        options = session_options()
        if quick:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            # Probes run beside TensorRT's parser: one core each instead of both fighting over two.
            options.intra_op_num_threads = 1
        if model.references_weights:
            options.add_session_config_entry("session.model_external_initializers_file_folder_path",
                                             str(model.weights_dir))
        self.memory_cap = None
        self.run_options = None
        if memory_cap is not None and self.providers == ["CPUExecutionProvider"]:
            self.memory_cap = _capped_arena(ort, memory_cap)
            options.add_session_config_entry("session.use_env_allocators", "1")
            # Give the arena's memory back after every run: the shared arena lives as long as the process.
            self.run_options = ort.RunOptions()
            self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        try:
            self.session = ort.InferenceSession(serialized, options, providers=self.providers)
        except Exception as exc:  # onnxruntime's own exception types
            raise WorkbenchError(f"onnxruntime cannot load {model.name}: {str(exc).splitlines()[0][:300]}",
                                 "The model may use an op or type onnxruntime does not support "
                                 "(e.g. a TensorRT plugin).", str(exc)) from exc
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._input_types = {i.name: i.type for i in self.session.get_inputs()}

    def input_dtype(self, name: str) -> np.dtype:
        onnx_type = self._input_types[name].removeprefix("tensor(").removesuffix(")")
        return np.dtype({"float": "float32", "double": "float64"}.get(onnx_type, onnx_type))

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            outputs = self.session.run(self.output_names, feeds, self.run_options)
        except Exception as exc:
            raise WorkbenchError(f"onnxruntime failed to run the model: {str(exc).splitlines()[0][:300]}",
                                 "Check the input shapes and dtypes.", str(exc)) from exc
        return dict(zip(self.output_names, outputs))

    def close(self) -> None:
        self.session = None


def _capped_arena(ort: Any, cap: int) -> int:
    """Registers onnxruntime's shared CPU arena with at most ``cap`` bytes, once per process (onnxruntime's
    environment is process-wide and cannot unregister it); returns the cap in force. An estimate from shape
    inference cannot bound a run whose intermediate shapes it does not know (a diffusion UNet's attention at
    128×128 latents asks for 8 GB in one MatMul); the arena refuses the allocation itself."""
    global _arena_cap
    if _arena_cap is None:
        memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(memory, ort.OrtArenaCfg(cap, _SAME_AS_REQUESTED, -1, -1))
        _arena_cap = cap
    return _arena_cap


def _with_outputs(proto, names):
    """A copy of ``proto`` that also returns the intermediate tensors ``names``."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    existing = {o.name for o in copy.graph.output}
    for name in names:
        if name not in existing:
            copy.graph.output.append(onnx.ValueInfoProto(name=name))
    return copy


class TensorRTRunner(ClosingRunner):
    """A serialized engine on the GPU: device buffers with cuda-python, ``execute_async_v3`` on one stream."""

    def __init__(self, engine_path: str | Path, backend: Backend, profile_index: int = 0):
        path = Path(engine_path).expanduser()
        self.label = f"{backend.name} {backend.version} ({path.name})"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WorkbenchError(f"Cannot read the engine file {path}: {exc.strerror}.",
                                 "Check the path, or build the engine first.") from exc
        trt = backend.trt
        self._trt = trt
        self._logger = backend.logger(min_severity="warning")
        blocker = backend.engine_blocker(data)
        runtime = trt.Runtime(self._logger) if not blocker else None
        blocker = blocker or backend.engine_blocker(data, runtime)
        if blocker or runtime is None:  # no runtime without a blocker
            raise WorkbenchError(f"Cannot run {path.name} here: {blocker}",
                                 "Build and analysis work on this machine; comparing an engine needs a GPU "
                                 "the engine was built for.")
        self.engine = runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            errors = self._logger.errors() or ["no reason given"]
            raise WorkbenchError(f"{backend.name} {backend.version} could not load {path.name}: "
                                 f"{concise_message(errors[0])}",
                                 "Rebuild the engine with the installed TensorRT for this GPU.", "\n".join(errors))
        self._runtime = runtime
        from cuda.bindings import runtime as cudart

        self._cudart = cudart
        self.stream = self._cuda(cudart.cudaStreamCreate(), "create a CUDA stream")
        self.context = self.engine.create_execution_context()
        if not 0 <= profile_index < self.engine.num_optimization_profiles:
            raise WorkbenchError(f"The engine has {self.engine.num_optimization_profiles} optimization profile(s); "
                                 f"profile {profile_index} does not exist.", "Choose profile 0.")
        self.profile_index = profile_index
        self.context.set_optimization_profile_async(profile_index, self.stream)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.input_names = [n for n in names if is_input[n]]
        self.output_names = [n for n in names if not is_input[n]]
        self._buffers: dict[str, tuple[int, int]] = {}  # name → (device pointer, capacity in bytes)
        self._allocator = make_output_allocator(trt, self._device_buffer)

    def _cuda(self, result, what: str):
        err, *values = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise WorkbenchError(f"CUDA could not {what}: {err.name if hasattr(err, 'name') else err}.",
                                 "Check the GPU and its driver (nvidia-smi).")
        return values[0] if len(values) == 1 else None

    def input_dtype(self, name: str) -> np.dtype:
        return np.dtype(self._trt.nptype(self.engine.get_tensor_dtype(name)))

    def profile_shapes(self) -> dict[str, tuple[tuple[int, ...], ...]]:
        """Input name → (min, opt, max) shapes of the chosen profile."""
        return {n: tuple(tuple(s) for s in self.engine.get_tensor_profile_shape(n, self.profile_index))
                for n in self.input_names}

    def _device_buffer(self, name: str, nbytes: int) -> int:
        pointer, capacity = self._buffers.get(name, (0, 0))
        if capacity < nbytes:
            if pointer:
                self._cuda(self._cudart.cudaFree(pointer), "free device memory")
            pointer = int(self._cuda(self._cudart.cudaMalloc(max(nbytes, 1)), f"allocate {nbytes} bytes for '{name}'"))
            self._buffers[name] = (pointer, nbytes)
        return pointer

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cudart, kind = self._cudart, self._cudart.cudaMemcpyKind
        hosts = {}
        for name in self.input_names:
            if name not in feeds:
                raise WorkbenchError(f"No data for the engine input '{name}'.", "Every engine input needs an array.")
            host = np.ascontiguousarray(feeds[name], dtype=self.input_dtype(name))
            if not self.context.set_input_shape(name, host.shape):
                low, _opt, high = self.profile_shapes()[name]
                raise WorkbenchError(f"Input '{name}' has shape {list(host.shape)}, outside the engine's profile "
                                     f"{self.profile_index} ({list(low)} to {list(high)}).",
                                     "Use input shapes within the profile, or rebuild with a wider profile.")
            pointer = self._device_buffer(name, host.nbytes)
            self._cuda(cudart.cudaMemcpyAsync(pointer, host.ctypes.data, host.nbytes, kind.cudaMemcpyHostToDevice,
                                              self.stream), f"copy '{name}' to the GPU")
            self.context.set_tensor_address(name, pointer)
            hosts[name] = host  # alive until the stream has read it
        outputs = {}
        self._allocator.shapes.clear()
        dtypes = {n: np.dtype(self._trt.nptype(self.engine.get_tensor_dtype(n))) for n in self.output_names}
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(d < 0 for d in shape):  # data-dependent (NonZero, NMS): TensorRT asks for memory while it runs
                self.context.set_output_allocator(name, self._allocator)
                continue
            outputs[name] = np.empty(shape, dtype=dtypes[name])
            self.context.set_tensor_address(name, self._device_buffer(name, outputs[name].nbytes))
        if not self.context.execute_async_v3(self.stream):
            errors = self._logger.errors() or ["no reason given"]
            raise WorkbenchError(f"The engine failed to run: {concise_message(errors[-1])}", "", "\n".join(errors))
        self._cuda(cudart.cudaStreamSynchronize(self.stream), "finish the inference")  # the final shapes are known now
        for name in self.output_names:
            if name not in outputs:
                outputs[name] = np.empty(self._allocator.shapes[name], dtype=dtypes[name])
        for name, host in outputs.items():
            source = self._allocator.buffers[name][0] if name in self._allocator.shapes else self._buffers[name][0]
            self._cuda(cudart.cudaMemcpyAsync(host.ctypes.data, source, host.nbytes,
                                              kind.cudaMemcpyDeviceToHost, self.stream), f"copy '{name}' back")
        self._cuda(cudart.cudaStreamSynchronize(self.stream), "copy the outputs back")
        return outputs

    def close(self) -> None:
        self._allocator.buffers.clear()  # the pointers are among self._buffers, freed below
        for pointer, _capacity in self._buffers.values():
            self._cudart.cudaFree(pointer)
        self._buffers.clear()
        if getattr(self, "stream", None) is not None:
            self._cudart.cudaStreamDestroy(self.stream)
            self.stream = None


def make_output_allocator(trt, device_buffer):
    """TensorRT's ``IOutputAllocator`` for outputs whose shape is only known while the engine runs.

    TensorRT calls ``reallocate_output_async`` (``reallocate_output`` before TensorRT 10) with the byte
    size it needs, and ``notify_shape`` with the output's final shape; memory comes from the runner's
    growing device buffers, so a second run of the same size allocates nothing.
    """
    # TensorRT ships no stubs: IOutputAllocator is an untyped base class, the imported module's own.
    allocator_base: Any = trt.IOutputAllocator

    class OutputAllocator(allocator_base):
        def __init__(self):
            trt.IOutputAllocator.__init__(self)
            self.buffers: dict[str, tuple[int, int]] = {}  # name → (device pointer, bytes)
            self.shapes: dict[str, tuple[int, ...]] = {}

        def reallocate_output(self, tensor_name, _memory, size, _alignment):
            pointer = device_buffer(tensor_name, max(int(size), 1))
            self.buffers[tensor_name] = (pointer, int(size))
            return pointer

        def reallocate_output_async(self, tensor_name, memory, size, alignment, _stream):
            return self.reallocate_output(tensor_name, memory, size, alignment)

        def notify_shape(self, tensor_name, shape):
            self.shapes[tensor_name] = tuple(int(d) for d in shape)

    return OutputAllocator()
