"""Reduced precision by converting the model, for strongly typed networks.

TensorRT-RTX (and strongly typed full TensorRT) takes precision from the ONNX types, so "build in
FP16" means converting weights and activations to float16 before parsing. Graph inputs and outputs
stay float32 behind Casts, so the engine's I/O matches the original model, and ops that lose
accuracy or index correctness in float16 stay float32.
"""

from __future__ import annotations

from onnxconverter_common import float16

from workbench.core.model.loading import LoadedModel

# Besides the converter's defaults (ML ops, NMS, TopK, Resize, Range, ...): reductions and
# exponentials that overflow float16's range, and normalisations whose variance underflows it.
PRECISION_SENSITIVE_OPS = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | {
    "Exp", "Pow", "Log", "Softplus", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceProd",
    "InstanceNormalization", "CumSum", "Einsum"})


def convert_to_fp16(model: LoadedModel) -> LoadedModel:
    """A float16 copy of ``model`` (the original is untouched), I/O kept float32, sensitive ops float32."""
    from workbench.core.precision.conversion import KeepSet, convert_model

    return convert_model(model, "fp16", KeepSet(op_types=PRECISION_SENSITIVE_OPS))
