"""Optimization profiles: the (min, opt, max) shapes an engine accepts for each dynamic input.

A build takes one or more ``Profile`` objects. Each gives every dynamic input a ``ShapeRange``
and, for shape-tensor inputs (integer tensors whose values become shapes), a range of values.
``validate_profiles`` checks them against the model before anything reaches TensorRT, because
TensorRT treats a misnamed input as "not given" and quietly builds for batch 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.core.errors import WorkbenchError
from workbench.core.model.input_roles import FREEZE_FLOAT_SHAPE_TENSOR, float_shape_tensor_text, is_float
from workbench.core.model.loading import TensorInfo

Shape = tuple[int, ...]
FIELDS = ("min", "opt", "max")


@dataclass
class ShapeRange:
    min: Shape
    opt: Shape
    max: Shape

    def get(self, which: str) -> Shape:
        return getattr(self, which)

    def to_dict(self) -> dict:
        return {which: list(self.get(which)) for which in FIELDS}

    @classmethod
    def from_dict(cls, data: dict, where: str) -> "ShapeRange":
        try:
            values = {which: tuple(int(d) for d in data[which]) for which in FIELDS}
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkbenchError(f"{where}: needs 'min', 'opt' and 'max' as lists of integers (got {data!r}).",
                                 "Example: {min = [1, 3, 224, 224], opt = [8, 3, 224, 224], max = [16, 3, 224, 224]}"
                                 ) from exc
        return cls(**values)

    @classmethod
    def fixed(cls, shape: Shape) -> "ShapeRange":
        return cls(tuple(shape), tuple(shape), tuple(shape))


@dataclass
class Profile:
    shapes: dict[str, ShapeRange] = field(default_factory=dict)  # input name → dims range
    values: dict[str, ShapeRange] = field(default_factory=dict)  # shape-tensor input → values range

    def to_dict(self) -> dict:
        data: dict = {"shapes": {name: r.to_dict() for name, r in self.shapes.items()}}
        if self.values:
            data["values"] = {name: r.to_dict() for name, r in self.values.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict, index: int = 0) -> "Profile":
        if not isinstance(data, dict):
            raise WorkbenchError(f"Profile {index + 1} is not a table (got {data!r}).",
                                 "Each [[profiles]] entry has a 'shapes' table.")
        return cls(
            shapes={name: ShapeRange.from_dict(r, f"Profile {index + 1}, input '{name}'")
                    for name, r in data.get("shapes", {}).items()},
            values={name: ShapeRange.from_dict(r, f"Profile {index + 1}, values of '{name}'")
                    for name, r in data.get("values", {}).items()})

    def copy(self) -> "Profile":
        return Profile.from_dict(self.to_dict())


def describe_profile(profile: Profile) -> str:
    """``images 1x3x32x32…1x3x512x512; state 2x1x64`` (one shape where min = max)."""
    parts = [f"{name} {_shape_text(r.min)}…{_shape_text(r.max)}" if r.min != r.max else f"{name} {_shape_text(r.opt)}"
             for name, r in profile.shapes.items()]
    parts += [f"{name} values {_shape_text(r.opt)}" for name, r in profile.values.items()]
    return "; ".join(parts)


def profiles_to_recipe(profiles: list[Profile]) -> list[dict]:
    return [p.to_dict() for p in profiles]


def profiles_from_recipe(data: list[dict]) -> list[Profile]:
    return [Profile.from_dict(entry, i) for i, entry in enumerate(data)]


@dataclass(frozen=True)
class ProfileIssue:
    """One reason a profile cannot be built; ``which``/``dim`` locate the cell for the editor."""

    profile: int
    input: str
    message: str
    which: str = ""  # "min", "opt", "max" or "" for the whole input
    dim: int | None = None
    values: bool = False  # about a shape-tensor's values rather than its dims


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def _check_range(index: int, name: str, rng: ShapeRange, declared, values: bool) -> list[ProfileIssue]:
    label = f"Profile {index + 1}, {'values of ' if values else ''}'{name}'"
    issues = []
    rank = None if declared is None else len(declared)
    for which in FIELDS:
        shape = rng.get(which)
        if rank is not None and len(shape) != rank:
            what = "values" if values else "dimensions"
            issues.append(ProfileIssue(index, name, f"{label}: {which} {_shape_text(shape)} has {len(shape)} {what}, "
                                       f"the model's input needs {rank}.", which, None, values))
            continue
        for dim, value in enumerate(shape):
            if values:  # any integer can be a shape value (Reshape takes -1 and 0)
                continue
            if value < 0:
                # 0 is an empty tensor, which TensorRT accepts (a KV cache before the first token, an empty
                # set of detections at a split boundary).
                issues.append(ProfileIssue(index, name, f"{label}: {which} dimension {dim} is {value}; "
                                           "dimensions must be 0 or more.", which, dim, values))
            elif declared is not None and isinstance(declared[dim], int) and declared[dim] > 0 \
                    and value != declared[dim]:
                issues.append(ProfileIssue(index, name, f"{label}: {which} dimension {dim} is {value}, but the model "
                                           f"fixes it at {declared[dim]}.", which, dim, values))
    if rank is None and len({len(rng.get(w)) for w in FIELDS}) > 1:
        issues.append(ProfileIssue(index, name, f"{label}: min, opt and max have different ranks.", "", None, values))
    if issues:
        return issues
    part = "value" if values else "dimension"
    for dim, (low, mid, high) in enumerate(zip(rng.min, rng.opt, rng.max)):
        if low > mid:  # the min cell is the one that breaks the order (its opt and max still agree)
            issues.append(ProfileIssue(index, name, f"{label}: {part} {dim} has min {low} > opt {mid}; "
                                       f"each {part} needs min ≤ opt ≤ max.", "min", dim, values))
        if mid > high:
            issues.append(ProfileIssue(index, name, f"{label}: {part} {dim} has opt {mid} > max {high}; "
                                       f"each {part} needs min ≤ opt ≤ max.", "max", dim, values))
    return issues


def validate_profiles(profiles: list[Profile], inputs: list[TensorInfo],
                      shape_tensors: Sequence[str] = ()) -> list[ProfileIssue]:
    """Every reason these profiles do not fit the model's inputs; empty when they do.

    ``shape_tensors`` (from ``analysis.find_shape_tensor_inputs`` or the support report) are the
    inputs that need a range of values in every profile.

    No profiles at all is not an issue here: the build then fails with TensorRT's own "no
    optimization profile" error, which becomes a problem pointing at the profile editor.
    """
    by_name = {t.name: t for t in inputs}
    dynamic = [t.name for t in inputs if t.is_dynamic]
    issues: list[ProfileIssue] = []
    known = ", ".join(by_name) or "none"
    for index, profile in enumerate(profiles):
        for name, rng in profile.shapes.items():
            if name not in by_name:
                issues.append(ProfileIssue(index, name, f"Profile {index + 1} names input '{name}', which the model "
                                           f"does not have (its inputs: {known}). TensorRT would ignore it and "
                                           "build for batch 1, so it is refused."))
                continue
            issues.extend(_check_range(index, name, rng, by_name[name].shape, values=False))
        for name, rng in profile.values.items():
            tensor = by_name.get(name)
            if tensor is None:
                issues.append(ProfileIssue(index, name, f"Profile {index + 1} gives values for '{name}', which the "
                                           f"model does not have (its inputs: {known}).", values=True))
            elif is_float(tensor) and name in shape_tensors:
                issues.append(_float_shape_tensor_issue(index, name, tensor))
            elif not tensor.dtype.startswith("int") or (tensor.shape is not None and len(tensor.shape) > 1):
                issues.append(ProfileIssue(index, name, f"Profile {index + 1} gives values for '{name}', but only "
                                           "integer scalar or 1-D inputs can be shape tensors.", values=True))
            else:
                length = tensor.shape[0] if tensor.shape else 1  # a scalar holds one value
                declared = (None,) * length if isinstance(length, int) and length > 0 else None
                issues.extend(_check_range(index, name, rng, declared, values=True))
        for name in dynamic:
            if name not in profile.shapes:
                issues.append(ProfileIssue(index, name, f"Profile {index + 1} gives no shapes for dynamic input "
                                           f"'{name}' {by_name[name].shape_text()}."))
        for name in shape_tensors:
            if name in profile.values:
                continue
            if name in by_name and is_float(by_name[name]):
                issues.append(_float_shape_tensor_issue(index, name, by_name[name]))
            else:
                issues.append(ProfileIssue(index, name, f"Profile {index + 1} gives no values for shape-tensor input "
                                           f"'{name}': TensorRT needs the min/opt/max values it will be fed.",
                                           values=True))
    return issues


def _float_shape_tensor_issue(index: int, name: str, tensor: TensorInfo) -> ProfileIssue:
    return ProfileIssue(index, name, f"Profile {index + 1}: {float_shape_tensor_text(name, tensor)}; "
                                     f"{FREEZE_FLOAT_SHAPE_TENSOR}.", values=True)


def check_profiles(profiles: list[Profile], inputs: list[TensorInfo]) -> None:
    issues = validate_profiles(profiles, inputs)
    if issues:
        raise WorkbenchError("The optimization profiles do not fit the model: " + issues[0].message,
                             "Correct the shapes in the profile editor (or the recipe / --*-shapes options).",
                             "\n".join(i.message for i in issues))


def profile_from_samples(inputs: list[TensorInfo], sample_shapes: dict[str, list[Shape]]) -> Profile:
    """A profile spanning the shapes of loaded sample data: min/max over the samples, opt the most common.
    Inputs without samples are left out (``workbench.core.shapes.suggest_shapes`` chooses them)."""
    profile = Profile()
    for tensor in inputs:
        seen = [tuple(s) for s in sample_shapes.get(tensor.name, [])]
        if tensor.is_dynamic and tensor.shape is not None and seen:
            profile.shapes[tensor.name] = ShapeRange(tuple(map(min, zip(*seen))), Counter(seen).most_common(1)[0][0],
                                                     tuple(map(max, zip(*seen))))
    return profile


def with_shape_tensor_values(profiles: list[Profile], shape_tensors: list[str]) -> list[Profile]:
    """Profiles where entries given as shapes for shape-tensor inputs are their values, as trtexec
    reads ``--optShapes=target_shape:1x64`` for a shape tensor."""
    routed = []
    for profile in profiles:
        profile = profile.copy()
        for name in shape_tensors:
            if name in profile.shapes:
                profile.values[name] = profile.shapes.pop(name)
        routed.append(profile)
    return routed


def parse_shape_list(text: str) -> dict[str, Shape]:
    """trtexec's ``name:1x3x224x224,other:4`` → {"name": (1, 3, 224, 224), "other": (4,)}."""
    shapes = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, dims = item.rpartition(":")
        if not sep or not name:
            raise WorkbenchError(f"Cannot read shape {item!r}.", "Write shapes as name:1x3x224x224 (several "
                                 "separated by commas).")
        try:
            shapes[name] = tuple(int(d) for d in dims.split("x")) if dims else ()
        except ValueError as exc:
            raise WorkbenchError(f"Cannot read the dimensions in {item!r}.",
                                 "Dimensions are integers separated by 'x', e.g. images:1x3x224x224.") from exc
    return shapes


def profile_from_shape_lists(min_shapes: dict[str, Shape], opt_shapes: dict[str, Shape],
                             max_shapes: dict[str, Shape]) -> Profile:
    """As trtexec does: a missing min or max is taken from opt (and opt from whichever is given)."""
    profile = Profile()
    for name in dict.fromkeys([*opt_shapes, *min_shapes, *max_shapes]):
        opt = opt_shapes.get(name) or max_shapes.get(name) or min_shapes[name]
        profile.shapes[name] = ShapeRange(min_shapes.get(name, opt), opt, max_shapes.get(name, opt))
    return profile


def format_shape_list(shapes: dict[str, Shape]) -> str:
    return ",".join(f"{name}:{_shape_text(shape) if shape else ''}" for name, shape in shapes.items())
