"""The deployment folder of a split: the parts, the engines, ``split.toml`` and ``run_split.py``.

``split.toml`` is a recipe: ``[[fixes]]`` cuts the original model at the first TensorRT part's outputs,
``[[profiles]]`` and ``[build]`` are that part's build, so ``trt-workbench build MODEL --recipe split.toml``
rebuilds its engine and ``trt-workbench compare trt_part.onnx --engine trt_part.engine --recipe split.toml``
checks it; ``[split]`` lists every part (runtime, file, engine, inputs, outputs) and the boundary tensors,
in running order, for ``run_split.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import save_model
from workbench.core.recipe import Recipe, save_recipe
from workbench.core.shapes.profiles import profiles_to_recipe
from workbench.core.split import run_split
from workbench.core.split.partition import TENSORRT
from workbench.core.split.split import SplitResult
from workbench.core.files import write_atomically

RECIPE_NAME, SCRIPT_NAME = "split.toml", "run_split.py"


def prepare_folder(output_dir: str | os.PathLike, model_path: Path | None) -> Path:
    """``output_dir``, created if missing (its parent must exist); never the folder's own original model."""
    folder = Path(output_dir).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise WorkbenchError(f"{folder} is a file, not a folder.", "Give a folder for the split (-o DIR).")
    if not folder.parent.is_dir():
        raise WorkbenchError(f"The folder {folder.parent} does not exist.", "Choose an existing parent folder.")
    folder.mkdir(exist_ok=True)
    if model_path is not None and Path(model_path).resolve().parent == folder and \
            Path(model_path).name in ("trt_part.onnx", "rest.onnx"):
        raise WorkbenchError("The split would overwrite the model it splits.", "Choose another output folder.")
    return folder


def tensorrt_part_cut(result: SplitResult) -> dict | None:
    """The recipe step that turns the original into the split's TensorRT part: the original cut at that part's
    outputs, when the part starts at the graph inputs (the first part) and is not the whole model."""
    first = result.parts[0] if result.parts else None
    model_outputs = [o.name for o in result.model.proto.graph.output]
    if first is None or first.runtime != TENSORRT or first.outputs == model_outputs:
        return None
    return {"name": "cut-outputs", "params": {"tensors": first.outputs}}


def split_recipe(result: SplitResult, backend_name: str) -> Recipe:
    builds = {b.part: b for b in result.builds}
    parts = []
    for part in result.parts:
        entry = {"index": part.index, "runtime": part.runtime, "file": part.file, "inputs": part.inputs,
                 "outputs": part.outputs, "nodes": len(part.nodes)}
        build = builds.get(part.index)
        if build is not None:
            entry["engine"] = Path(build.engine_path).name if build.engine_path else ""
            entry["profiles"] = profiles_to_recipe(build.profiles)
        parts.append(entry)
    model_outputs = [o.name for o in result.model.proto.graph.output]
    cut = tensorrt_part_cut(result)
    first_build = next((builds[p.index] for p in result.parts if p.index in builds), None)
    return Recipe(
        fixes=[cut] if cut else [], profiles=profiles_to_recipe(first_build.profiles) if first_build else [],
        build=result.settings.to_dict(),
        inputs={"seed": 0, "shapes": {i["name"]: i["shape"] for i in result.inputs}},
        split={"backend": backend_name, "inputs": [i["name"] for i in result.inputs], "outputs": model_outputs,
               "parts": parts, "boundaries": [b.to_dict() for b in result.boundaries]},
        source_model=str(result.model.path or ""))


def write_split_folder(result: SplitResult, folder: Path, backend_name: str) -> list[Path]:
    """Write the parts, split.toml and run_split.py into ``folder`` (each file atomically); the engines are
    already there (the builds wrote them). Returns every file of the folder that belongs to the split."""
    written = [save_model(part.model.proto, folder / part.file, protect=result.model.path,
                          weights_dir=part.model.weights_dir) for part in result.parts]
    written += [Path(b.engine_path) for b in result.builds if b.engine_path]
    written.append(save_recipe(split_recipe(result, backend_name), folder / RECIPE_NAME))
    script = Path(run_split.__file__).read_text(encoding="utf-8")
    written.append(write_atomically(folder / SCRIPT_NAME, script, 0o755))  # runnable as ./run_split.py
    return written
