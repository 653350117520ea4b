"""Runners: one small interface for everything that turns input arrays into output arrays."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from workbench.core.errors import WorkbenchError
from workbench.core.model import LoadedModel
from workbench.core.onnxruntime_compat import for_onnxruntime


class OnnxruntimeRunner:
    """The reference: onnxruntime on the CPU (the CUDA provider when this onnxruntime has it)."""

    name = "onnxruntime"

    def __init__(self, model: LoadedModel, providers: list[str] | None = None, extra_outputs: list[str] = ()):
        proto = for_onnxruntime(model.full_proto())
        if extra_outputs:
            proto = _with_outputs(proto, extra_outputs)
        available = ort.get_available_providers()
        self.providers = providers or [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        options = ort.SessionOptions()
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(proto.SerializeToString(), options, providers=self.providers)
        except Exception as exc:  # onnxruntime's own exception types
            raise WorkbenchError(f"onnxruntime cannot load {model.name}: {str(exc).splitlines()[0][:300]}",
                                 "The model may use an op or type onnxruntime does not support "
                                 "(e.g. a TensorRT plugin).", str(exc)) from exc
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            outputs = self.session.run(self.output_names, feeds)
        except Exception as exc:
            raise WorkbenchError(f"onnxruntime failed to run the model: {str(exc).splitlines()[0][:300]}",
                                 "Check the input shapes and dtypes.", str(exc)) from exc
        return dict(zip(self.output_names, outputs))


def _with_outputs(proto, names):
    """A copy of ``proto`` that also returns the intermediate tensors ``names``."""
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    existing = {o.name for o in copy.graph.output}
    for name in names:
        if name not in existing:
            copy.graph.output.append(onnx.ValueInfoProto(name=name))
    return copy
