"""What a fix is: a name, typed parameters, a transform and a description (what finds the problems a fix answers
lives apart, in ``fixes.detectors``: an analysis runs them without importing the transforms).

Parameters arrive as text (the CLI's ``NAME:key=value,…``, the dialog's line edits) or as TOML
values (a recipe). ``Param.coerce`` turns either into one canonical, TOML-friendly value, so a step
made in the window and the same step replayed from its recipe are equal and give the same graph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel

if TYPE_CHECKING:
    import numpy as np

# Dtypes a user can ask for (set-input-dtype), by NumPy-style name as the model summary shows them.
DTYPE_NAMES = ("float32", "float16", "bfloat16", "float64", "int8", "uint8", "int32", "int64", "bool")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Param:
    """One parameter. ``kind``: input, tensor, tensors, names, node, file, shape, dtype, float, int, bool, choice,
    values."""

    name: str
    kind: str
    help: str
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()

    def coerce(self, raw: Any) -> Any:
        """Text or TOML value → canonical value; raises ``WorkbenchError`` naming the parameter."""
        try:
            return _COERCERS[self.kind](self, raw)
        except WorkbenchError:
            raise
        except (TypeError, ValueError) as exc:
            raise self.error(f"{raw!r} is not a valid {self.kind}") from exc

    def error(self, what: str, hint: str = "") -> WorkbenchError:
        return WorkbenchError(f"Parameter '{self.name}': {what}.", hint or self.help)

    def text(self, value: Any) -> str:
        """Canonical value → the CLI's text form (inverse of ``coerce`` on text)."""
        if self.kind == "shape":
            return "x".join(str(d) for d in value)
        if self.kind in ("tensors", "names", "values"):
            return ";".join(str(v) for v in (value if isinstance(value, list) else [value]))
        if self.kind == "bool":
            return "true" if value else "false"
        return str(value)


def _as_text_list(raw) -> list[str]:
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(";") if part.strip()]
    if isinstance(raw, (list, tuple)):
        return [str(part).strip() for part in raw]
    return [str(raw)]


def _shape(param: Param, raw) -> list[int]:
    parts = [p for p in raw.lower().replace(",", "x").split("x")] if isinstance(raw, str) else list(raw)
    try:
        dims = [int(str(p).strip()) for p in parts]
    except ValueError:
        raise param.error(f"{raw!r} is not a shape", "Write it as dims joined by 'x', e.g. 1x3x512x512.") from None
    if not dims or any(d <= 0 for d in dims):
        raise param.error(f"{raw!r} is not a shape", "Every dimension must be a positive integer, e.g. 1x3x512x512.")
    return dims


def _choice(param: Param, raw) -> str:
    value = str(raw).strip()
    if value not in param.choices:
        raise param.error(f"{value!r} is not one of {', '.join(param.choices)}")
    return value


def _dtype(param: Param, raw) -> str:
    value = str(raw).strip().lower()
    value = {"float": "float32", "half": "float16", "double": "float64", "int": "int32"}.get(value, value)
    if value not in DTYPE_NAMES:
        raise param.error(f"{raw!r} is not a dtype", f"Choose one of: {', '.join(DTYPE_NAMES)}.")
    return value


def _bool(param: Param, raw) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise param.error(f"{raw!r} is not true or false")


def _float(param: Param, raw) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise param.error(f"{raw!r} is not a finite number")
    return value


def _number(param: Param, raw) -> float | int | bool:
    if isinstance(raw, bool) or isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return _float(param, raw)
    text = str(raw).strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return _float(param, text)


def _values(param: Param, raw) -> float | int | bool | list:
    """A number or a list of numbers, as written (an int stays int, so a dtype check can see it)."""
    if isinstance(raw, (list, tuple)) or (isinstance(raw, str) and ";" in raw):
        values = [_number(param, v) for v in _as_text_list(raw)] if isinstance(raw, str) else \
            [_number(param, v) for v in raw]
        if not values:
            raise param.error("no value given")
        return values
    return _number(param, raw)


def _name(param: Param, raw) -> str:
    value = str(raw).strip()
    if not value:
        raise param.error("empty name")
    return value


def _names(param: Param, raw) -> list[str]:
    names = _as_text_list(raw)
    if not names or not all(names):
        raise param.error("no names given", f"Separate several names with ';', e.g. {param.name}=a;b.")
    return names


_COERCERS: dict[str, Callable[[Param, Any], Any]] = {
    "input": _name, "tensor": _name, "node": _name, "file": _name, "tensors": _names, "names": _names, "shape": _shape,
    "dtype": _dtype,
    "float": _float, "int": lambda p, raw: int(str(raw).strip()), "bool": _bool, "choice": _choice, "values": _values,
}


@dataclass
class FixContext:
    """What a transform reports besides the graph: warnings, and values it baked in for parity."""

    warnings: list[str] = field(default_factory=list)
    # Inputs replaced by constants: the parity check feeds the original model these values.
    frozen_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    opset: int | None = None  # the opset the fixed model needs, when a fix raises it
    infer_shapes: bool = False  # run ONNX shape inference on the result
    # Why onnxruntime cannot judge the result by design (e.g. bfloat16 ops); the onnx checker still does.
    onnxruntime_cannot_run: str = ""


@dataclass(frozen=True)
class Fix:
    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    # (graph, params, context, model) → None; mutates the onnx-graphsurgeon graph in place.
    transform: Callable
    # (model, params) → None; model-specific checks (unknown input, wrong rank, dtype of a value).
    validate: Callable | None = None
    # (model, problem) → {param: text} to pre-fill the dialog.
    suggest: Callable[..., dict[str, str]] | None = None
    # Whether applying the fix can change outputs (the dialog warns; parity measures).
    may_change_numerics: bool = False
    # Whether the transform needs every tensor's type and shape (shape inference runs first).
    needs_shapes: bool = False
    # Whether the transform reads weight values. Fixes that only rewire the graph or change input types
    # run on the weight-free model: the weights stay on disk and the result keeps referencing them.
    needs_weights: bool = True
    # What to try when the result is invalid (it is refused, never kept or written).
    invalid_hint: str = "Undo the step before this one or try another fix, and report the detail."
    # How the fix changes what the model means even when every output stays bit-identical (an input becomes a
    # constant, the outputs change), shown when the user must confirm it (repair's --accept-changes); "" when it
    # keeps the meaning. Required: each fix decides, so a new one cannot skip the confirmation by omission.
    changes_meaning: str = field(kw_only=True)

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise WorkbenchError(f"{self.name} has no parameter '{name}'.",
                             f"Its parameters are: {', '.join(p.name for p in self.params) or 'none'}.")

    def coerce_params(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Raw parameters → canonical ones (defaults filled, unknown and missing ones refused)."""
        params = {}
        for key in raw:
            self.param(key)
        for param in self.params:
            value = raw.get(param.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                if param.required:
                    raise WorkbenchError(f"{self.name} needs the parameter '{param.name}'.", param.help)
                if param.default is not None:
                    params[param.name] = param.default
                continue
            params[param.name] = param.coerce(value)
        return params

    def check_params(self, model: LoadedModel, params: dict[str, Any]) -> None:
        """The fix's checks of ``params`` against ``model`` (unknown input, wrong rank …), when it has any."""
        if self.validate is not None:
            self.validate(model, params)


@dataclass(frozen=True)
class FixStep:
    """One applied fix with canonical parameters: a recipe's ``[[fixes]]`` entry."""

    name: str
    params: tuple[tuple[str, Any], ...]
    fix: Fix = field(compare=False, repr=False)  # its catalogue entry (``make_step`` looks it up)

    @property
    def param_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.params}

    def to_dict(self) -> dict:
        return {"name": self.name, "params": self.param_dict}

    def spec(self) -> str:
        """The CLI form, ``NAME:key=value,…``."""
        parts = [f"{k}={self.fix.param(k).text(v)}" for k, v in self.param_dict.items()]
        return self.name + (":" + ",".join(parts) if parts else "")


def freeze_params(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())


@dataclass
class FixPreview:
    """What a fix changes, by node name (nested If/Loop nodes included)."""

    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    inputs_before: list[str] = field(default_factory=list)
    inputs_after: list[str] = field(default_factory=list)
    outputs_before: list[str] = field(default_factory=list)
    outputs_after: list[str] = field(default_factory=list)
    node_count_before: int = 0
    node_count_after: int = 0

    @property
    def is_empty(self) -> bool:
        return not (self.removed or self.added or self.changed) and self.inputs_before == self.inputs_after \
            and self.outputs_before == self.outputs_after

    def summary(self) -> str:
        text = (f"{len(self.removed)} node(s) removed, {len(self.added)} added, {len(self.changed)} changed "
                f"({self.node_count_before} → {self.node_count_after} nodes)")
        if self.inputs_before != self.inputs_after:
            text += f"; inputs {self.inputs_before} → {self.inputs_after}"
        if self.outputs_before != self.outputs_after:
            text += f"; outputs {self.outputs_before} → {self.outputs_after}"
        return text

    def to_dict(self) -> dict:
        return {"removed": self.removed, "added": self.added, "changed": self.changed,
                "inputs_before": self.inputs_before, "inputs_after": self.inputs_after,
                "outputs_before": self.outputs_before, "outputs_after": self.outputs_after,
                "node_count_before": self.node_count_before, "node_count_after": self.node_count_after,
                "summary": self.summary()}
