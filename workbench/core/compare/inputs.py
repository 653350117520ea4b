"""Input data for running a model: seeded random feeds, arrays from .npy/.npz files, and images.

``InputSpec`` says where each input's data comes from and is what the recipe's ``[inputs]``
section stores; ``make_inputs`` turns it into arrays. Inputs a file or image list does not cover
get seeded random data, so a spec is always complete. Dynamic dims are filled from ``shapes``
(e.g. a profile's opt shapes) or a default of 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from workbench.core.errors import WorkbenchError
from workbench.core.model.input_roles import InputMeaning, InputRole, input_meanings, past_length
from workbench.core.model.loading import LoadedModel, TensorInfo
from workbench.core.model.random_feeds import check_names, check_shape, input_dtype, random_feeds
from workbench.core.shapes.profiles import profiles_from_recipe
from workbench.core.shapes.suggest import suggest_shapes

LAYOUTS = ("auto", "NCHW", "NHWC")
COLOR_MODES = ("RGB", "BGR", "L")


def random_inputs(model: LoadedModel, seed: int = 0, shapes: dict[str, tuple[int, ...]] | None = None,
                  value_ranges: dict[str, tuple[float, float]] | None = None,
                  dtypes: dict[str, str] | None = None, only: set[str] | None = None) -> dict[str, np.ndarray]:
    """``random_feeds`` at realistic shapes: a dynamic dim ``shapes`` leaves open is never 1, the shape service
    picks its value (and says why)."""
    if any(t.dynamic_dims and t.name not in (shapes or {}) for t in model.summary().inputs):
        shapes = {**suggest_shapes(model).shapes(), **(shapes or {})}
    return random_feeds(model, seed, shapes, value_ranges, dtypes, only)


def _meant_values_text(meaning: InputMeaning, meanings: dict[str, InputMeaning],
                       shapes: dict[str, tuple[int, ...]]) -> str:
    """Why a random input holds the values it holds, where its meaning chose them (empty where nothing did)."""
    shape = shapes[meaning.name]
    if meaning.role is InputRole.POSITION_IDS and shape:
        past, why = past_length(meanings, shapes, shape[-1])
        return f"{meaning.reason}; counting from {past} ({why})"
    return meaning.reason if meaning.low is not None else ""


@dataclass
class ImageSource:
    """Image files for one input: one file per batch item, preprocessed the way the model expects."""

    paths: list[str]
    layout: str = "auto"  # NCHW, NHWC, or auto: from where the model's 1/3-sized channel dim sits
    size: tuple[int, int] | None = None  # (height, width); None: from the input's shape, else the image's own
    color: str = "RGB"
    scale: float | None = None  # None: 1/255 for float inputs, 1 for integer inputs
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    dtype: str = ""  # default: the input's dtype

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "")}
        data["mean"], data["std"] = list(self.mean), list(self.std)
        if self.size:
            data["size"] = list(self.size)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ImageSource":
        size = data.get("size")
        return cls(paths=[str(p) for p in data.get("paths", [])], layout=data.get("layout", "auto"),
                   size=_height_width(size) if size else None, color=data.get("color", "RGB"),
                   scale=data.get("scale"), mean=tuple(float(v) for v in data.get("mean", (0.0,))),
                   std=tuple(float(v) for v in data.get("std", (1.0,))), dtype=data.get("dtype", ""))


def _height_width(size: Sequence[int]) -> tuple[int, int]:
    height, width = size  # anything but two numbers is a malformed recipe (InputSpec.from_dict says so)
    return int(height), int(width)


@dataclass
class InputSpec:
    """Where the input data comes from; stored as the recipe's ``[inputs]`` section."""

    seed: int = 0
    shapes: dict[str, list[int]] = field(default_factory=dict)
    value_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    dtypes: dict[str, str] = field(default_factory=dict)
    data_files: list[str] = field(default_factory=list)  # .npz (arrays by input name) or .npy files
    images: dict[str, ImageSource] = field(default_factory=dict)
    profile: int = -1  # random data shaped from this optimization profile (index in the recipe); -1: none
    profile_shape: str = "opt"  # which of the profile's min/opt/max shapes

    def resolved_shapes(self, profiles: Sequence[dict] = ()) -> dict[str, list[int]]:
        """``shapes``, filled in from the chosen profile for the inputs it does not name."""
        if self.profile < 0:
            return dict(self.shapes)
        chosen = profiles_from_recipe(list(profiles))
        if self.profile >= len(chosen):
            raise WorkbenchError(f"Input shapes are to come from profile {self.profile + 1}, but there are "
                                 f"{len(chosen)} profile(s).", "Choose an existing profile or give shapes directly.")
        if self.profile_shape not in ("min", "opt", "max"):
            raise WorkbenchError(f"Unknown profile shape '{self.profile_shape}'.", "Use min, opt or max.")
        from_profile = {name: list(r.get(self.profile_shape)) for name, r in chosen[self.profile].shapes.items()}
        return {**from_profile, **self.shapes}

    def to_dict(self) -> dict:
        data: dict[str, object] = {"seed": self.seed}
        if self.shapes:
            data["shapes"] = {k: list(v) for k, v in self.shapes.items()}
        if self.value_ranges:
            data["value_ranges"] = {k: list(v) for k, v in self.value_ranges.items()}
        if self.dtypes:
            data["dtypes"] = dict(self.dtypes)
        if self.data_files:
            data["data_files"] = list(self.data_files)
        if self.images:
            data["images"] = {k: v.to_dict() for k, v in self.images.items()}
        if self.profile >= 0:
            data["profile"], data["profile_shape"] = self.profile, self.profile_shape
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        try:
            return cls(seed=int(data.get("seed", 0)),
                       shapes={k: [int(d) for d in v] for k, v in data.get("shapes", {}).items()},
                       value_ranges={k: (float(v[0]), float(v[1])) for k, v in data.get("value_ranges", {}).items()},
                       dtypes=dict(data.get("dtypes", {})), data_files=[str(p) for p in data.get("data_files", [])],
                       images={k: ImageSource.from_dict(v) for k, v in data.get("images", {}).items()},
                       profile=int(data.get("profile", -1)), profile_shape=str(data.get("profile_shape", "opt")))
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            raise WorkbenchError(f"The recipe's [inputs] section is malformed: {exc}.",
                                 "Fix the section or set the inputs again in the app.") from exc


@dataclass
class PreparedInputs:
    arrays: dict[str, np.ndarray]
    sources: dict[str, str]  # input name → "random (seed 0)", "data.npz", "3 images"

    def describe(self) -> list[dict]:
        return [{"name": n, "shape": list(a.shape), "dtype": str(a.dtype), "source": self.sources[n]}
                for n, a in self.arrays.items()]


def input_line(described: dict) -> str:
    """One entry of ``PreparedInputs.describe()`` as a line of a command's text output."""
    return f"  input  {described['name']}: {described['dtype']} {described['shape']} from {described['source']}"


def make_inputs(model: LoadedModel, spec: InputSpec | None = None, profiles: Sequence[dict] = ()) -> PreparedInputs:
    """Arrays for every input of ``model``: from the spec's files and images, random for the rest
    (shaped by the recipe's ``profiles`` when the spec names one)."""
    spec = spec or InputSpec()
    tensors = {t.name: t for t in model.summary().inputs}
    check_names(model, spec.images, " in the image settings")
    arrays: dict[str, np.ndarray] = {}
    sources: dict[str, str] = {}
    for path in spec.data_files:
        for name, array in load_arrays(path, model).items():
            arrays[name], sources[name] = array, Path(path).name
    for name, images in spec.images.items():
        arrays[name] = load_images(images, tensors[name])
        sources[name] = f"{len(images.paths)} image(s)"
    missing = set(tensors) - set(arrays)
    if missing:
        given = {name: tuple(shape) for name, shape in spec.resolved_shapes(profiles).items()}
        suggestion = suggest_shapes(model, sample_shapes={n: [a.shape] for n, a in arrays.items()} or None)
        generated = random_inputs(model, spec.seed, {**suggestion.shapes(), **given}, spec.value_ranges, spec.dtypes,
                                  only=missing)
        meanings = input_meanings(model)
        shapes = {name: array.shape for name, array in {**arrays, **generated}.items()}
        for name, array in generated.items():
            switch = suggestion.values.get(name)
            # A switch takes the model's own value (the deployment path) wherever its shape allows, also at
            # shapes given for every input (another workload's point): a random one would pick a branch by chance.
            if switch is not None and name not in spec.value_ranges and switch.value.shape == array.shape:
                arrays[name], sources[name] = switch.value.astype(array.dtype), switch.text()
                continue
            arrays[name], sources[name] = array, f"random (seed {spec.seed})"
            meant = _meant_values_text(meanings[name], meanings, shapes) if name not in spec.value_ranges else ""
            if meant:
                sources[name] += f", {meant}"
            chosen = [d.text() for d in suggestion.dims if any(use[0] == name for use in d.uses)]
            if name in given:
                origin = "given" if name in spec.shapes else f"the {spec.profile_shape} shape of profile " \
                                                              f"{spec.profile + 1}"
                sources[name] += f" at {'x'.join(map(str, array.shape))} ({origin})"
            elif chosen:
                sources[name] += f" at {'x'.join(map(str, array.shape))}: {'; '.join(chosen)}"
    return PreparedInputs({n: arrays[n] for n in tensors}, {n: sources[n] for n in tensors})


def _fit_dtype(array: np.ndarray, tensor: TensorInfo, origin: str) -> np.ndarray:
    want = input_dtype(tensor)
    if array.dtype == want:
        return array
    same_kind = (array.dtype.kind == want.kind or {array.dtype.kind, want.kind} <= {"i", "u"}
                 or (want.kind == "f" and array.dtype.kind in "iu"))
    if not same_kind:
        raise WorkbenchError(f"{origin}: array '{tensor.name}' is {array.dtype}, but the model's input is {want}.",
                             f"Save the array as {want}.")
    return array.astype(want)


def load_arrays(path: str | Path, model: LoadedModel) -> dict[str, np.ndarray]:
    """Arrays from an ``.npz`` (keys are input names) or an ``.npy`` (named by its file stem, or
    the model's only input), checked against the inputs' dtypes and static dims."""
    path = Path(path).expanduser()
    tensors = {t.name: t for t in model.summary().inputs}
    if not path.is_file():
        raise WorkbenchError(f"Input data file not found: {path}", "Check the path.")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise WorkbenchError(f"{path.name} is not a NumPy .npy/.npz file that can be read safely: {exc}",
                             "Save the arrays with numpy.save / numpy.savez (object arrays are refused: "
                             "loading them would run code).", str(exc)) from exc
    if isinstance(loaded, np.ndarray):
        if path.stem in tensors:
            name = path.stem
        elif len(tensors) == 1:
            name = next(iter(tensors))
        else:
            raise WorkbenchError(f"{path.name} holds one array, but the model has {len(tensors)} inputs and the "
                                 "file name matches none of them.",
                                 f"Name the file after its input (e.g. {next(iter(tensors))}.npy) or use an .npz "
                                 "with one array per input name.")
        raw = {name: loaded}
    else:
        with loaded:
            raw = {key: loaded[key] for key in loaded.files}
        unknown = set(raw) - set(tensors)
        if unknown:
            raise WorkbenchError(f"{path.name} has arrays for unknown input name(s): {', '.join(sorted(unknown))}.",
                                 f"The model's inputs are: {', '.join(tensors)}. Arrays are matched by name.")
    result = {}
    for name, array in raw.items():
        check_shape(tensors[name], tuple(array.shape), f"{path.name}: array of shape")
        result[name] = _fit_dtype(array, tensors[name], path.name)
    return result


def _layout(source: ImageSource, tensor: TensorInfo) -> str:
    if source.layout in ("NCHW", "NHWC"):
        return source.layout
    if source.layout != "auto":
        raise WorkbenchError(f"Unknown image layout '{source.layout}'.", "Use NCHW, NHWC or auto.")
    shape = tensor.shape or ()
    if len(shape) == 4 and shape[3] in (1, 3) and shape[1] not in (1, 3):
        return "NHWC"
    return "NCHW"


def load_images(source: ImageSource, tensor: TensorInfo) -> np.ndarray:
    """A batch from image files: resize (bilinear), colour order, ``(x * scale - mean) / std``, layout, dtype."""
    from PIL import Image, UnidentifiedImageError

    if not source.paths:
        raise WorkbenchError(f"No image files given for input '{tensor.name}'.", "Choose one or more images.")
    if tensor.shape is not None and len(tensor.shape) != 4:
        raise WorkbenchError(f"Input '{tensor.name}' has shape {tensor.shape_text()}, not an image batch of rank 4.",
                             "Use random data or an .npz file for this input.")
    if source.color not in COLOR_MODES:
        raise WorkbenchError(f"Unknown colour order '{source.color}'.", f"Use one of {', '.join(COLOR_MODES)}.")
    layout = _layout(source, tensor)
    shape = tensor.shape or (None,) * 4
    height_dim, width_dim = (shape[2], shape[3]) if layout == "NCHW" else (shape[1], shape[2])
    size = source.size or ((height_dim, width_dim) if isinstance(height_dim, int) and isinstance(width_dim, int)
                           and height_dim > 0 and width_dim > 0 else None)
    dtype = input_dtype(tensor, source.dtype)
    scale = source.scale if source.scale is not None else (1 / 255 if dtype.kind == "f" else 1.0)
    pictures = []
    for path in source.paths:
        try:
            with Image.open(Path(path).expanduser()) as opened:
                image = opened.convert("L" if source.color == "L" else "RGB")
                if size is not None and image.size != (size[1], size[0]):
                    image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
                pixels = np.asarray(image, dtype=np.float32)
        except FileNotFoundError as exc:
            raise WorkbenchError(f"Image not found: {path}", "Check the path.") from exc
        except (UnidentifiedImageError, OSError) as exc:
            raise WorkbenchError(f"{Path(path).name} is not an image Pillow can read.",
                                 "Use PNG, JPEG, BMP or another common format.", str(exc)) from exc
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if source.color == "BGR":
            pixels = pixels[:, :, ::-1]
        pictures.append(pixels)
    if len({p.shape for p in pictures}) > 1:
        raise WorkbenchError("The images have different sizes and the input's height/width are dynamic.",
                             "Set a resize size so every image gets the same height and width.")
    batch: np.ndarray = np.stack(pictures) * np.float32(scale)
    batch = (batch - np.asarray(source.mean, np.float32)) / np.asarray(source.std, np.float32)
    if layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        batch = np.clip(np.rint(batch), info.min, info.max)
    batch = np.ascontiguousarray(batch.astype(dtype))
    check_shape(tensor, tuple(batch.shape), f"{len(pictures)} image(s) give a batch of shape")
    return batch
