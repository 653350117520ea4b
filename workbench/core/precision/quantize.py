"""INT8 quantization with explicit Q/DQ that the TensorRT-RTX parser accepts; Model Optimizer when installed.

Built-in path: onnxruntime's ``quantize_static`` in QDQ format with per-channel symmetric weights,
symmetric activations and float biases. With default options it quantizes biases, and the TensorRT-RTX
parser rejects that (``DequantizeLinear … ITensor::getDimensions: Error Code 4``). Calibration data are
feeds at realistic shapes (the shape service's seeded random inputs, or the user's arrays).

NVIDIA Model Optimizer (``modelopt.onnx.quantization.quantize``, INT8 and FP8) is an optional extra: it
needs torch, so it is used only when importable.
"""

from __future__ import annotations

import importlib.util
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx

from workbench.core.compare.inputs import InputSpec, load_arrays, make_inputs
from workbench.core.onnxruntime_compat import for_onnxruntime
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.conversion import KeepSet
from workbench.core.validation import validate_fixed_model

MODES = ("int8", "fp8")
DEFAULT_CALIBRATION_SAMPLES = 8
# INT8 keeps 256 levels per tensor: errors of a few per cent of an output's range are expected.
INT8_ATOL = 1e-1
INT8_RTOL = 1e-1
INT8_TOLERANCE_REASON = "INT8 keeps 256 levels per tensor, so 10 % is the default tolerance for INT8"
Feeds = dict[str, np.ndarray]  # one sample: an array per input name


def modelopt_available() -> bool:
    """Whether NVIDIA Model Optimizer's ONNX quantization can be imported (an optional extra)."""
    return importlib.util.find_spec("modelopt") is not None


def calibration_samples(model: LoadedModel, samples: int = DEFAULT_CALIBRATION_SAMPLES, calib_file: str = "",
                        spec: InputSpec | None = None, profiles: Sequence[dict] = ()) -> tuple[list[Feeds], str]:
    """Calibration feeds and where they come from: ``calib_file`` (.npz/.npy, one sample per leading index)
    or ``samples`` seeded random feeds from ``spec``'s seed on, at its shapes (given ones, those of a profile of
    ``profiles``, else the shape service's realistic ones). The spec's data files and images are left out: they
    are one sample, the accuracy check's."""
    if calib_file:
        arrays = load_arrays(calib_file, model)
        count = min(len(a) for a in arrays.values())
        return ([{name: a[i:i + 1] for name, a in arrays.items()} for i in range(count)],
                f"{count} samples from {calib_file}")
    random_spec = replace(spec or InputSpec(), data_files=[], images={})
    prepared = [make_inputs(model, replace(random_spec, seed=random_spec.seed + index), profiles)
                for index in range(samples)]
    first = "; ".join(f"{name}: {source}" for name, source in prepared[0].sources.items()) if prepared else ""
    return [p.arrays for p in prepared], f"{samples} seeded random samples (no data given), the first: {first}"


def _excluded_nodes(model: LoadedModel, exclude: KeepSet) -> list[str]:
    return [node.name for node in model.proto.graph.node
            if node.name in exclude.nodes or node.op_type in exclude.op_types]


def quantize(model: LoadedModel, calibration: list[dict[str, np.ndarray]], mode: str = "int8",
             exclude: KeepSet | None = None, use_modelopt: bool = False, validate: bool = True) -> LoadedModel:
    """A Q/DQ copy of ``model`` calibrated on ``calibration`` (a list of feeds); ``exclude`` stays float.

    With ``validate`` the result is judged (onnx full check, onnxruntime session) and refused, naming the node, before
    anyone can write it: the quantizer is a library's, and its output is not trusted blindly.
    """
    if mode not in MODES:
        raise WorkbenchError(f"Unknown quantization mode {mode!r}.", f"Choose one of: {', '.join(MODES)}.")
    if (mode == "fp8" or use_modelopt) and not modelopt_available():
        raise WorkbenchError(f"{mode.upper()} quantization with Model Optimizer needs nvidia-modelopt, which is not "
                             "installed.", "pip install 'nvidia-modelopt[onnx]' (it needs torch), or use --mode int8 "
                             "with the built-in path.")
    if not calibration:
        raise WorkbenchError("Quantization needs at least one calibration sample.", "Give --calib-random N or --calib.")
    excluded = _excluded_nodes(model, exclude or KeepSet())
    with tempfile.TemporaryDirectory(prefix="workbench-quantize-") as folder:
        source, target = Path(folder) / "model.onnx", Path(folder) / "quantized.onnx"
        source.write_bytes(for_onnxruntime(model.full_proto()).SerializeToString())  # both quantizers run it
        if mode == "fp8" or use_modelopt:
            _quantize_with_modelopt(source, target, calibration, mode, excluded)
        else:
            _quantize_with_onnxruntime(source, target, calibration, excluded)
        quantized = onnx.load(str(target))
    if validate:
        validate_fixed_model(quantized, f"The {mode.upper()} quantization of {model.name}",
                             "Exclude the node the message names (--exclude / the Precision panel's list) and report "
                             "the model.", original=model.proto)
    return LoadedModel.from_proto(quantized, model.path)


def _quantize_with_onnxruntime(source: Path, target: Path, calibration, excluded: list[str]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Samples(CalibrationDataReader):
        def __init__(self):
            self._samples = iter(calibration)

        def get_next(self):
            return next(self._samples, None)

    logging.disable(logging.WARNING)  # it logs advice on the root logger for every unquantized bias
    try:
        quantize_static(str(source), str(target), Samples(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_exclude=excluded,
                        extra_options={"QuantizeBias": False, "ActivationSymmetric": True,
                                       "WeightSymmetric": True})
    except Exception as exc:  # onnxruntime raises plain exceptions on graphs it cannot quantize
        raise WorkbenchError(f"INT8 quantization failed: {exc}", "Exclude the node the message names.",
                             repr(exc)) from exc
    finally:
        logging.disable(logging.NOTSET)


def _quantize_with_modelopt(source: Path, target: Path, calibration, mode: str, excluded: list[str]) -> None:
    from modelopt.onnx.quantization import quantize as modelopt_quantize

    names = list(calibration[0])
    stacked = {name: np.concatenate([sample[name] for sample in calibration]) for name in names}
    modelopt_quantize(str(source), quantize_mode=mode, calibration_data=stacked, output_path=str(target),
                      nodes_to_exclude=excluded)
