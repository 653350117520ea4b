"""The one owner of the process's runtime services: the TensorRT backends, every child process, the caches.

The window and the command line each create a ``Runtime`` and close it when they end (``with Runtime(): …``);
closing stops every child process it started (the analysis child, the build children, the onnxruntime child),
running ones included. While a runtime is open it is the current one (``current_runtime``), which the core's
functions ask for a backend, a child or a cached answer, so no call signature has to carry it. Code that opened
none (a library user, a test) gets a default runtime, closed when the process exits.

The caches live here, not on the objects they describe: a ``LoadedModel`` stays read-only, and the shape
service's answers for it (``shape_cache``) are dropped with the model (weak references). So do the scratch
folders (``scratch_folder``): files a user may still open while the runtime lives (the window's reduce reports),
removed when it closes.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.backend import BACKEND_CHOICES, Backend, import_backend
from workbench.core.errors import WorkbenchError
from workbench.core.isolation.child_process import ChildProcess

if TYPE_CHECKING:
    from workbench.core.model.loading import LoadedModel


class ShapeCache:
    """One model's shape suggestions by their arguments, and the lock a caller holds while one is computed (a
    caller arriving while a prefetch probes waits for its answer instead of probing again)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.suggestions: dict = {}


class Runtime:
    """Backends, child processes and caches with one lifecycle: ``close`` (or leaving ``with``) ends them all."""

    def __init__(self, *, spare_children: bool = True) -> None:
        """``spare_children``: whether a child process that serves one call at a time (builds, onnxruntime runs)
        starts the next call's child as soon as a call ends. The window wants it (the next build finds TensorRT
        imported); a command line that ends after its work does not: its spare was started only to be killed at
        exit, and made ``trt-workbench build`` a quarter slower."""
        self.spare_children = spare_children
        self._lock = threading.Lock()
        self._backends: dict[str, Backend] = {}
        self._children: dict[str, ChildProcess] = {}
        self._shape_caches: weakref.WeakKeyDictionary[LoadedModel, ShapeCache] = weakref.WeakKeyDictionary()
        self._scratch_folders: list[Path] = []
        self._previous: Runtime | None = None

    def backend(self, choice: str = "auto") -> Backend:
        """The TensorRT flavour ``choice`` ("auto" prefers full TensorRT), imported once."""
        if choice not in BACKEND_CHOICES:
            raise WorkbenchError(f"Unknown backend {choice!r}.", f"Choose one of: {', '.join(BACKEND_CHOICES)}.")
        with self._lock:
            if choice not in self._backends:
                backend = import_backend(choice)
                self._backends[choice] = self._backends.setdefault(backend.name, backend)
            return self._backends[choice]

    def child_process(self, name: str, make: Callable[[], ChildProcess]) -> ChildProcess:
        """The child process known as ``name`` ("onnxruntime", "build:tensorrt-rtx" …), made by ``make`` the
        first time it is asked for; ``close`` stops it."""
        with self._lock:
            if name not in self._children:
                child = make()
                child.spare_after_call = self.spare_children
                self._children[name] = child
            return self._children[name]

    def child_processes(self) -> dict[str, ChildProcess]:
        """The children made so far, by name."""
        with self._lock:
            return dict(self._children)

    def shape_cache(self, model: LoadedModel) -> ShapeCache:
        """The shape service's answers for ``model`` (kept as long as the model is)."""
        with self._lock:
            cache = self._shape_caches.get(model)
            if cache is None:
                cache = self._shape_caches[model] = ShapeCache()
            return cache

    def scratch_folder(self, prefix: str) -> Path:
        """A new temporary folder (named ``prefix``…), removed with everything in it when the runtime closes."""
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        with self._lock:
            self._scratch_folders.append(folder)
        return folder

    def activate(self) -> Runtime:
        """Make this the current runtime (until ``close``)."""
        global _current
        with _current_lock:
            self._previous, _current = _current, self
        return self

    def close(self) -> None:
        """Stop every child process (a running call gets ``ChildCrashed``), forget the caches, remove the scratch
        folders and stop being the current runtime."""
        global _current
        with _current_lock:
            if _current is self:
                _current = self._previous
        with self._lock:
            children, self._children = list(self._children.values()), {}
            self._shape_caches = weakref.WeakKeyDictionary()
            folders, self._scratch_folders = self._scratch_folders, []
        for child in children:
            child.close()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)  # a file still open elsewhere must not stop the exit

    def __enter__(self) -> Runtime:
        return self.activate()

    def __exit__(self, *_exc) -> None:
        self.close()


_current: Runtime | None = None
_current_lock = threading.Lock()
_default: Runtime | None = None


def current_runtime() -> Runtime:
    """The open runtime (the window's or the command's), else the process's default one."""
    global _default
    with _current_lock:
        if _current is not None:
            return _current
        if _default is None:
            _default = Runtime()
            atexit.register(_default.close)
        return _default


def load_backend(choice: str = "auto") -> Backend:
    """The current runtime's TensorRT backend ``choice``."""
    return current_runtime().backend(choice)
