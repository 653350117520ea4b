"""What an engine's precision truthfully comes from, for build summaries and the history.

A model with Q/DQ nodes is quantized whatever the build settings say, and on a strongly typed
network FP16 means a converted model, so "Precision: FP32" would mislead for both.
"""

from __future__ import annotations

from onnx import TensorProto

from workbench.core.backend import Backend
from workbench.core.model.loading import LoadedModel

_QUANTIZE_OPS = ("QuantizeLinear", "DequantizeLinear")
_ZERO_POINT_INPUT = 2
# Quantized element types → the precision they stand for; QuantizeLinear's default is uint8.
_QUANTIZED_PRECISION = {getattr(TensorProto, name): precision for name, precision in (
    ("INT8", "INT8"), ("UINT8", "INT8"), ("INT4", "INT4"), ("UINT4", "INT4"), ("FLOAT8E4M3FN", "FP8"),
    ("FLOAT8E5M2", "FP8"), ("FLOAT4E2M1", "FP4")) if hasattr(TensorProto, name)}  # FLOAT4E2M1: onnx >= 1.18
_DEFAULT_QUANTIZED = TensorProto.UINT8
_MODEL_FLOAT_PRECISION = {TensorProto.FLOAT16: "FP16", TensorProto.BFLOAT16: "BF16"}


def quantized_precisions(model: LoadedModel) -> list[str]:
    """The precisions of the model's Q/DQ nodes ("INT8", "FP8", ...), sorted; empty when it has none."""
    graph = model.proto.graph
    initializer_types = {init.name: init.data_type for init in graph.initializer}
    found = set()
    for node in graph.node:
        if node.op_type not in _QUANTIZE_OPS:
            continue
        # DequantizeLinear's input 0 is the quantized tensor itself; both ops carry the type on the zero point.
        candidates = [node.input[0]] if node.op_type == "DequantizeLinear" else []
        if len(node.input) > _ZERO_POINT_INPUT:
            candidates.append(node.input[_ZERO_POINT_INPUT])
        types = [initializer_types[name] for name in candidates if name in initializer_types]
        output_dtype = next((a.i for a in node.attribute if a.name == "output_dtype" and a.i), None)
        element_type = next((t for t in types if t in _QUANTIZED_PRECISION), output_dtype or _DEFAULT_QUANTIZED)
        found.add(_QUANTIZED_PRECISION.get(element_type, "INT8"))
    return sorted(found)


def _float_precision(model: LoadedModel, settings, backend: Backend) -> str:
    if settings.uses_conversion(backend):
        return "FP16 (converted)"
    if settings.precision != "fp32":
        return f"{settings.precision.upper()} (builder flag)"
    # Weights as initializers, or as Constant nodes (paddle2onnx, PyTorch's small tensors), and the float
    # tensors the model declares: a converted model shows in any of them.
    graph = model.proto.graph
    types = {init.data_type for init in graph.initializer}
    types |= {node.attribute[0].t.data_type for node in graph.node
              if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"}
    types |= {value.type.tensor_type.elem_type for value in graph.value_info}
    typed = sorted(label for element_type, label in _MODEL_FLOAT_PRECISION.items() if element_type in types)
    return f"{'+'.join(typed)} (model types)" if typed else "FP32"


def precision_label(model: LoadedModel, settings, backend: Backend) -> str:
    """E.g. "FP32", "FP16 (converted)", "INT8 (Q/DQ)", "INT8 (Q/DQ) + FP16 (converted)"."""
    quantized = quantized_precisions(model)
    floating = _float_precision(model, settings, backend)
    if not quantized:
        return floating
    label = f"{'+'.join(quantized)} (Q/DQ)"
    return label if floating == "FP32" else f"{label} + {floating}"
