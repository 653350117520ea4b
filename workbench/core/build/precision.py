"""Reduced precision by converting the model, for strongly typed networks.

TensorRT-RTX (and strongly typed full TensorRT) takes precision from the ONNX types, so "build in
FP16" means converting weights and activations to float16 before parsing. Graph inputs and outputs
stay float32 behind Casts, so the engine's I/O matches the original model, and ops that lose
accuracy or index correctness in float16 stay float32.
"""

from __future__ import annotations

import warnings

from onnx import TensorProto
from onnxconverter_common import float16

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel

# Besides the converter's defaults (ML ops, NMS, TopK, Resize, Range, ...): reductions and
# exponentials that overflow float16's range, and normalisations whose variance underflows it.
PRECISION_SENSITIVE_OPS = sorted(set(float16.DEFAULT_OP_BLOCK_LIST) | {
    "Exp", "Pow", "Log", "Softplus", "ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceProd",
    "InstanceNormalization", "CumSum", "Einsum"})


def convert_to_fp16(model: LoadedModel, keep_float32_ops: list[str] | None = None) -> LoadedModel:
    """A float16 copy of ``model`` (the original is untouched), I/O kept float32."""
    block = PRECISION_SENSITIVE_OPS if keep_float32_ops is None else keep_float32_ops
    try:
        with warnings.catch_warnings():  # the converter warns about every value it clamps
            warnings.simplefilter("ignore")
            converted = float16.convert_float_to_float16(model.full_proto(), keep_io_types=True, op_block_list=block,
                                                         disable_shape_infer=False)
    except Exception as exc:  # the converter raises bare exceptions on graphs it cannot type
        raise WorkbenchError(f"Converting {model.name} to FP16 failed: {exc}",
                             "Build in FP32, or export the model in float16 from your framework.",
                             repr(exc)) from exc
    _retarget_casts(converted, {n.name for n in model.proto.graph.node if n.op_type == "Cast"})
    return LoadedModel.from_proto(converted, model.path)


def _retarget_casts(converted, original_casts: set[str]) -> None:
    # The converter leaves the model's own Cast-to-float32 nodes as they are, so e.g. a uint8 image
    # cast to float32 meets float16 weights in the next op ("must have same input types"). Every
    # float tensor is float16 now (the converter casts back around kept-float32 ops and graph I/O).
    for node in converted.graph.node:
        if node.name in original_casts:
            for attribute in node.attribute:
                if attribute.name == "to" and attribute.i == TensorProto.FLOAT:
                    attribute.i = TensorProto.FLOAT16
