"""Seeded random feeds that respect what each input is (``input_roles``): the one maker of random input arrays.

The shape probe calls it with the shapes it tries; ``compare.inputs.random_inputs`` with the shapes the shape
service chose. Dims ``shapes`` leaves dynamic become 1 here (``concrete_shape``): callers give every dynamic dim.
"""

from __future__ import annotations

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.model.input_roles import InputMeaning, InputRole, input_meanings, past_length, position_values
from workbench.core.model.loading import LoadedModel, TensorInfo

DEFAULT_RANGE = (0.0, 1.0)
_INT_RANGE = (0, 8)  # small non-negative ints: valid indices/ids for most integer inputs
# Roles whose values are categories even in a float input (SAM's float point labels: 0 background, 1 foreground).
_CATEGORIES = {InputRole.POINT_LABELS}


def concrete_shape(tensor: TensorInfo, shapes: dict[str, tuple[int, ...]] | None = None) -> tuple[int, ...]:
    if shapes and tensor.name in shapes:
        shape = tuple(int(d) for d in shapes[tensor.name])
        check_shape(tensor, shape, "Shape")
        return shape
    if tensor.shape is None:
        raise WorkbenchError(f"Input '{tensor.name}' has no declared shape.", "Give its shape explicitly.")
    return tuple(d if isinstance(d, int) and d > 0 else 1 for d in tensor.shape)


def check_shape(tensor: TensorInfo, shape: tuple[int, ...], what: str) -> None:
    if tensor.shape is not None and len(shape) != len(tensor.shape):
        raise WorkbenchError(f"{what} {list(shape)} for input '{tensor.name}' has rank {len(shape)}, "
                             f"but the model's input has rank {len(tensor.shape)} {tensor.shape_text()}.",
                             "Give one value per dimension.")
    for given, declared in zip(shape, tensor.shape or ()):
        if isinstance(declared, int) and declared > 0 and given != declared:
            raise WorkbenchError(f"{what} {list(shape)} for input '{tensor.name}' does not match the model's "
                                 f"static shape {tensor.shape_text()}.", "Only dynamic dimensions can change.")


def input_dtype(tensor: TensorInfo, override: str | None = None) -> np.dtype:
    if override:
        try:
            return np.dtype(override)
        except TypeError as exc:
            raise WorkbenchError(f"Unknown dtype '{override}' for input '{tensor.name}'.",
                                 "Use a NumPy dtype name such as float32, float16, int64 or uint8.") from exc
    return np.dtype(tensor.dtype) if tensor.dtype not in ("bfloat16", "undefined") else np.dtype(np.float32)


def check_names(model: LoadedModel, names, what: str) -> None:
    known = [t.name for t in model.summary().inputs]
    unknown = set(names) - set(known)
    if unknown:
        raise WorkbenchError(f"Unknown input name(s){what}: {', '.join(sorted(unknown))}.",
                             f"The model's inputs are: {', '.join(known)}.")


def random_feeds(model: LoadedModel, seed: int = 0, shapes: dict[str, tuple[int, ...]] | None = None,
                  value_ranges: dict[str, tuple[float, float]] | None = None,
                  dtypes: dict[str, str] | None = None, only: set[str] | None = None) -> dict[str, np.ndarray]:
    """One seeded array per graph input (or per name in ``only``); the same seed gives the same arrays.

    Values follow what each input is (``input_meanings``): integers that index a table stay inside its rows,
    attention masks are all ones, position ids count on from the tokens already cached; ``value_ranges`` win."""
    rng = np.random.default_rng(seed)
    check_names(model, set(shapes or {}) | set(value_ranges or {}) | set(dtypes or {}), "")
    meanings = input_meanings(model)
    concrete = {tensor.name: concrete_shape(tensor, shapes) for tensor in model.summary().inputs}
    feeds = {}
    for tensor in model.summary().inputs:
        shape = concrete[tensor.name]
        dtype = input_dtype(tensor, (dtypes or {}).get(tensor.name))
        meaning = meanings[tensor.name]
        asked = (value_ranges or {}).get(tensor.name)
        low, high = asked or _meant_range(meaning, dtype)
        # Every input draws from the generator, selected or not, so a value never depends on the selection.
        if dtype == np.bool_:
            value = rng.integers(int(low), int(high), shape, endpoint=True).astype(np.bool_)
        elif dtype.kind in "iu" or meaning.role in _CATEGORIES:
            value = rng.integers(int(low), int(high), shape, endpoint=True).astype(dtype)
        else:
            value = rng.uniform(low, high, shape).astype(dtype)
        if meaning.role is InputRole.POSITION_IDS and asked is None and shape:
            value = position_values(shape, past_length(meanings, concrete, shape[-1])[0], meaning.high, dtype)
        if only is None or tensor.name in only:
            feeds[tensor.name] = value
    return feeds


def _meant_range(meaning: InputMeaning, dtype: np.dtype) -> tuple[float, float]:
    """The values to draw from: the meaning's range where the graph bounds them, else the dtype's default."""
    default = (0, 1) if dtype == np.bool_ else _INT_RANGE if dtype.kind in "iu" else DEFAULT_RANGE
    low = meaning.low if meaning.low is not None else default[0]
    high = meaning.high if meaning.high is not None else max(default[1], low)
    return low, high
