"""Load and analyse a model without holding the caller's GIL for long (keeps a GUI responsive).

The TensorRT capability check and the validating load run in a ``ChildProcess``; the caller's own
copy is read without its weights (``load_model``). Only plain data
crosses the process boundary: a path in, a ``SupportReport`` out.
"""

from __future__ import annotations

import os
import tempfile
from functools import partial
from pathlib import Path

from workbench.core.analysis.support import SupportReport, analyze_support
from workbench.core.runtime import load_backend
from workbench.core.isolation.child_process import ChildProcess
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import LoadedModel, load_model
from workbench.core.model.protos import ModelProto
from workbench.core.progress import CancelToken, ProgressFn, no_progress

_WRITE_CHUNK = 8 << 20


def warm_up(backend_choice: str) -> None:
    """Runs first in the child: import TensorRT before the first model arrives."""
    if hasattr(os, "nice"):
        os.nice(5)  # on a busy machine the window's own process gets the CPU first
    load_backend(backend_choice)


def _open_and_analyze(path: str, backend_choice: str) -> SupportReport:
    return analyze_support(load_model(path), load_backend(backend_choice))


def _analyze_copy(serialized_path: str, weights_dir: str | None, backend_choice: str) -> SupportReport:
    data = Path(serialized_path).read_bytes()
    proto = ModelProto()
    proto.ParseFromString(data)
    # The weights the changed model still reads from disk resolve against the original's folder.
    model = LoadedModel(proto, data, weights_dir=Path(weights_dir) if weights_dir else None)
    return analyze_support(model, load_backend(backend_choice))


def analysis_child(backend_choice: str = "auto") -> ChildProcess:
    """One child serves analysis after analysis, with TensorRT imported before the first model."""
    return ChildProcess(warm_up=partial(warm_up, backend_choice))


def load_and_analyze(path: str | os.PathLike, child: ChildProcess, backend_choice: str = "auto",
                     progress: ProgressFn = no_progress, cancel: CancelToken | None = None
                     ) -> tuple[LoadedModel, SupportReport]:
    """Validate, load and analyse ``path``: the child checks the file and runs TensorRT first, so a
    bad file gets the full ``load_model`` diagnosis; then this process decodes its own copy."""
    cancel = cancel or CancelToken()
    path = Path(path).expanduser()
    progress(f"Analysing {path.name} with TensorRT…", None)
    report = child.call(_open_and_analyze, str(path), backend_choice, cancel=cancel, what=f"Analysing {path.name}")
    cancel.raise_if_cancelled(f"Opening {path.name}")
    progress(f"Reading {path.name}…", None)
    model = read_model(path, progress)
    model.summary()  # computed here, off the GUI thread
    return model, report


def read_model(path: Path, progress: ProgressFn = no_progress) -> LoadedModel:
    """A weight-free ``LoadedModel`` for a file the child has already validated with ``load_model``."""
    try:
        return load_model(path, progress)
    except WorkbenchError as exc:  # the file changed between the child's check and this read
        raise WorkbenchError(f"{path.name} could not be read a second time: {exc.message}",
                             "The file may have changed while it was being opened; open it again.",
                             exc.detail) from exc


def reanalyze(model: LoadedModel, child: ChildProcess, backend_choice: str = "auto",
              progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> SupportReport:
    """Analyse an in-memory model (after a fix or undo) in the child, through a temporary copy."""
    progress("Analysing the changed model with TensorRT…", None)
    handle, temp = tempfile.mkstemp(prefix="trt-workbench-", suffix=".onnx")
    try:
        with os.fdopen(handle, "wb") as stream:
            view = memoryview(model.serialized)
            for start in range(0, len(view), _WRITE_CHUNK):  # each write releases the GIL
                stream.write(view[start:start + _WRITE_CHUNK])
        weights_dir = str(model.weights_dir) if model.weights_dir else None
        return child.call(_analyze_copy, temp, weights_dir, backend_choice,
                          cancel=cancel, what="Analysing the changed model")
    finally:
        os.unlink(temp)
