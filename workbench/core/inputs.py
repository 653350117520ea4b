"""Input data for running a model: seeded random feeds shaped from the model's inputs.

Dynamic dims are filled from ``shapes`` (e.g. a profile's opt shapes) or a default of 1.
"""

from __future__ import annotations

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.model import LoadedModel, TensorInfo

DEFAULT_RANGE = (0.0, 1.0)
_INT_RANGE = (0, 8)  # small non-negative ints: valid indices/ids for most integer inputs


def concrete_shape(tensor: TensorInfo, shapes: dict[str, tuple[int, ...]] | None = None) -> tuple[int, ...]:
    if shapes and tensor.name in shapes:
        shape = tuple(int(d) for d in shapes[tensor.name])
        if tensor.shape is not None and len(shape) != len(tensor.shape):
            raise WorkbenchError(f"Shape {list(shape)} for input '{tensor.name}' has rank {len(shape)}, "
                                 f"but the model's input has rank {len(tensor.shape)} {tensor.shape_text()}.",
                                 "Give one value per dimension.")
        for given, declared in zip(shape, tensor.shape or ()):
            if isinstance(declared, int) and declared > 0 and given != declared:
                raise WorkbenchError(f"Shape {list(shape)} for input '{tensor.name}' does not match the model's "
                                     f"static shape {tensor.shape_text()}.", "Only dynamic dimensions can change.")
        return shape
    if tensor.shape is None:
        raise WorkbenchError(f"Input '{tensor.name}' has no declared shape.", "Give its shape explicitly.")
    return tuple(d if isinstance(d, int) and d > 0 else 1 for d in tensor.shape)


def random_inputs(model: LoadedModel, seed: int = 0, shapes: dict[str, tuple[int, ...]] | None = None,
                  value_ranges: dict[str, tuple[float, float]] | None = None) -> dict[str, np.ndarray]:
    """One seeded array per graph input; the same seed gives the same arrays."""
    rng = np.random.default_rng(seed)
    unknown = set(shapes or {}) - {t.name for t in model.summary().inputs}
    if unknown:
        raise WorkbenchError(f"Unknown input name(s): {', '.join(sorted(unknown))}.",
                             f"The model's inputs are: {', '.join(t.name for t in model.summary().inputs)}.")
    feeds = {}
    for tensor in model.summary().inputs:
        shape = concrete_shape(tensor, shapes)
        dtype = np.dtype(tensor.dtype) if tensor.dtype not in ("bfloat16", "undefined") else np.dtype(np.float32)
        low, high = (value_ranges or {}).get(tensor.name, _INT_RANGE if dtype.kind in "iu" else DEFAULT_RANGE)
        if dtype == np.bool_:
            feeds[tensor.name] = rng.integers(0, 2, shape).astype(np.bool_)
        elif dtype.kind in "iu":
            feeds[tensor.name] = rng.integers(int(low), int(high), shape, endpoint=True).astype(dtype)
        else:
            feeds[tensor.name] = rng.uniform(low, high, shape).astype(dtype)
    return feeds
