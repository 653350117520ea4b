"""Run a split model: the TensorRT engine for the part TensorRT builds, onnxruntime for the rest.

Written by ``trt-workbench split MODEL -o DIR`` into DIR, next to the parts and ``split.toml``; it does
not need TensorRT Workbench. Usage, from any folder:

    python run_split.py INPUTS.npz [-o OUTPUTS.npz] [--onnx-only]

INPUTS.npz holds one array per model input, by name (``numpy.savez("in.npz", image=array)``). The
outputs are written to OUTPUTS.npz (default: outputs.npz next to the inputs), one array per model output,
and their names, shapes and dtypes are printed.

Needs: Python ≥ 3.11, numpy and onnxruntime; for the engine also TensorRT's Python package (``tensorrt``,
or ``tensorrt_rtx`` for a TensorRT-RTX engine) and cuda-python (``cuda.bindings``), and an NVIDIA GPU of
the kind the engine was built for. Where the engine cannot run (no GPU, no TensorRT, ``--onnx-only``),
its part's ONNX file runs under onnxruntime instead, and a note on stderr says why. The order of the
parts, their files and the tensors handed between them come from the ``[split]`` section of split.toml.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent


class OnnxPart:
    def __init__(self, path: Path):
        self.session = ort.InferenceSession(str(path), providers=ort.get_available_providers())
        self.outputs = [o.name for o in self.session.get_outputs()]

    def run(self, feeds: dict) -> dict:
        return dict(zip(self.outputs, self.session.run(self.outputs, feeds)))


class EnginePart:
    """A serialized engine on the GPU through TensorRT's Python API and cuda-python (one stream)."""

    def __init__(self, path: Path, flavour: str):
        import importlib

        from cuda.bindings import runtime as cudart

        self.trt = importlib.import_module("tensorrt_rtx" if flavour == "tensorrt-rtx" else "tensorrt")
        self.cudart = cudart
        err, count = cudart.cudaGetDeviceCount()
        if int(err) != 0 or count == 0:
            raise RuntimeError("no usable CUDA GPU")
        self.logger = self.trt.Logger(self.trt.Logger.WARNING)
        self.runtime = self.trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise RuntimeError(f"TensorRT could not load {path.name} (built for another GPU or version?)")
        self.context = self.engine.create_execution_context()
        self.stream = self._check(cudart.cudaStreamCreate())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = self.trt.TensorIOMode.INPUT
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]

    @staticmethod
    def _check(result):
        err, *values = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise RuntimeError(f"CUDA error {err}")
        return values[0] if values else None

    def run(self, feeds: dict) -> dict:
        cudart, copy = self.cudart, self.cudart.cudaMemcpyKind
        allocations = []
        try:
            for name in self.inputs:
                host = np.ascontiguousarray(feeds[name], dtype=self.trt.nptype(self.engine.get_tensor_dtype(name)))
                self.context.set_input_shape(name, host.shape)
                device = self._check(cudart.cudaMalloc(max(host.nbytes, 1)))
                allocations.append(device)
                self._check(cudart.cudaMemcpy(device, host.ctypes.data, host.nbytes, copy.cudaMemcpyHostToDevice))
                self.context.set_tensor_address(name, device)
            results = {}
            for name in self.outputs:
                shape = tuple(self.context.get_tensor_shape(name))
                if any(d < 0 for d in shape):
                    raise RuntimeError(f"output '{name}' has a data-dependent shape; run with --onnx-only")
                results[name] = np.empty(shape, dtype=self.trt.nptype(self.engine.get_tensor_dtype(name)))
                device = self._check(cudart.cudaMalloc(max(results[name].nbytes, 1)))
                allocations.append(device)
                self.context.set_tensor_address(name, device)
            if not self.context.execute_async_v3(self.stream):
                raise RuntimeError("the engine failed to run")
            self._check(cudart.cudaStreamSynchronize(self.stream))
            for name, host in results.items():
                self._check(cudart.cudaMemcpy(host.ctypes.data, self.context.get_tensor_address(name), host.nbytes,
                                              copy.cudaMemcpyDeviceToHost))
            return results
        finally:
            for device in allocations:
                cudart.cudaFree(device)


def load_part(part: dict, flavour: str, onnx_only: bool):
    engine = part.get("engine", "")
    if part["runtime"] == "tensorrt" and engine and not onnx_only:
        try:
            return EnginePart(HERE / engine, flavour)
        except Exception as exc:  # noqa: BLE001 - any reason the engine cannot run here: say it, use the ONNX
            print(f"note: {engine} cannot run here ({type(exc).__name__}: {exc}); running {part['file']} "
                  "under onnxruntime instead", file=sys.stderr)
    return OnnxPart(HERE / part["file"])


def run(feeds: dict, onnx_only: bool = False) -> dict:
    split = tomllib.loads((HERE / "split.toml").read_text(encoding="utf-8"))["split"]
    tensors = dict(feeds)
    missing = [n for n in split["inputs"] if n not in tensors]
    if missing:
        raise SystemExit(f"error: the input file has no array for {', '.join(missing)}")
    for part in split["parts"]:
        runner = load_part(part, split.get("backend", "tensorrt"), onnx_only)
        tensors.update(runner.run({name: tensors[name] for name in part["inputs"]}))
    return {name: tensors[name] for name in split["outputs"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", help=".npz file with one array per model input")
    parser.add_argument("-o", "--output", help="where to write the outputs (.npz)")
    parser.add_argument("--onnx-only", action="store_true", help="run every part under onnxruntime")
    args = parser.parse_args()
    with np.load(args.inputs) as data:
        feeds = {name: data[name] for name in data.files}
    outputs = run(feeds, args.onnx_only)
    destination = Path(args.output or Path(args.inputs).with_name("outputs.npz"))
    np.savez(destination, **outputs)
    for name, array in outputs.items():
        print(f"{name}: {array.dtype} {list(array.shape)}")
    print(f"wrote {destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
