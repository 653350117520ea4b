"""The recipe file: what was done to a model, as TOML data (never code), replayable by the CLI.

A recipe has one section per capability; each capability's module turns its section into typed
objects and back (fixes: ``[[fixes]]`` steps; profiles: ``[[profiles]]``; ``[build]`` settings;
``[inputs]`` and ``[compare]`` for comparisons; ``[split]``: the parts of a split execution, what
``run_split.py`` reads). This module only reads and writes the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from workbench.core.errors import WorkbenchError
from workbench.core.files import write_atomically

RECIPE_VERSION = 1


@dataclass
class Recipe:
    fixes: list[dict] = field(default_factory=list)  # [{"name": "freeze-input", "params": {...}}, ...]
    profiles: list[dict] = field(default_factory=list)
    build: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    compare: dict = field(default_factory=dict)
    split: dict = field(default_factory=dict)  # parts, files, boundary tensors (trt-workbench split)
    source_model: str = ""  # informational: the model the recipe was made on

    def to_dict(self) -> dict:
        data: dict[str, object] = {"version": RECIPE_VERSION}
        if self.source_model:
            data["source_model"] = self.source_model
        for key in ("fixes", "profiles", "build", "inputs", "compare", "split"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        version = data.get("version", RECIPE_VERSION)
        if version > RECIPE_VERSION:
            raise WorkbenchError(f"This recipe was written by a newer TensorRT Workbench (format {version}).",
                                 "Upgrade TensorRT Workbench to replay it.")
        unknown = set(data) - {"version", "source_model", "fixes", "profiles", "build", "inputs", "compare", "split"}
        if unknown:
            raise WorkbenchError(f"Unknown recipe section(s): {', '.join(sorted(unknown))}.",
                                 "Check the recipe file for typos.")
        return cls(fixes=list(data.get("fixes", [])), profiles=list(data.get("profiles", [])),
                   build=dict(data.get("build", {})), inputs=dict(data.get("inputs", {})),
                   compare=dict(data.get("compare", {})), split=dict(data.get("split", {})),
                   source_model=data.get("source_model", ""))


def load_recipe(path: str | os.PathLike) -> Recipe:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise WorkbenchError(f"Recipe not found: {path}", "Check the path.") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkbenchError(f"{path.name} is not a valid recipe (TOML): {exc}",
                             "Fix the file or save the recipe again from the app.", str(exc)) from exc
    return Recipe.from_dict(data)


def save_recipe(recipe: Recipe, path: str | os.PathLike) -> Path:
    """Write atomically: a temporary file in the same folder, then rename."""
    path = Path(path).expanduser().resolve()
    text = tomli_w.dumps(recipe.to_dict())
    return write_atomically(path, text)
