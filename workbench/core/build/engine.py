"""Engine builds: settings, results, history, and ``build_engine``, which supervises a build child.

``build_engine`` is what the window's worker, the CLI, trial builds and repair searches call. It
checks profiles and settings up front, converts the model for FP16 when the network is strongly
typed, hands the model to an isolated child process (``isolation.ChildProcess`` running
``build.child.build_in_child``) and relays the child's log and progress while watching the cancel
token. The child runs TensorRT, so an internal assertion or an out-of-memory kill ends the child,
not the app: that becomes a ``WorkbenchError``. Builder errors become ``Problem`` objects on a
``BuildResult`` with ``succeeded=False``.

One spare child per backend is kept started (TensorRT imported) so repeated builds of small models
do not pay for process start-up; each child builds once, so no TensorRT state leaks between builds.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any, Callable

from workbench.core.backend import Backend, LogMessage
from workbench.core.runtime import current_runtime, load_backend
from workbench.core.build.child import ABORT_SWITCH, build_in_child
from workbench.core.build.builder_errors import map_builder_errors, map_parser_errors
from workbench.core.build.precision_label import precision_label
from workbench.core.memory import check_build_memory
from workbench.core.errors import WorkbenchError
from workbench.core.isolation.child_process import ChildCrashed, ChildProcess
from workbench.core.model.loading import LoadedModel
from workbench.core.precision.conversion import convert_model
from workbench.core.problems import Problem
from workbench.core.shapes.profiles import Profile, check_profiles, profiles_to_recipe
from workbench.core.progress import CancelToken, ProgressFn, no_progress

PRECISIONS = ("fp32", "fp16", "bf16", "int8", "fp8")
HARDWARE_COMPATIBILITY = ("none", "ampere_plus", "same_compute_capability")
COMPUTE_CAPABILITY_CURRENT = "CURRENT"  # TensorRT-RTX's target "the GPU the build runs on", exclusive of others
# After a cancel request the builder gets this long to stop at its next progress step; some steps
# (a large fused-graph compile) take seconds, so the child is killed after it.
CANCEL_GRACE_SECONDS = 1.0
_LOG_LINES_IN_CRASH_DETAIL = 20


@dataclass
class BuildSettings:
    precision: str = "fp32"  # one of PRECISIONS
    precision_by_flag: bool = False  # full TensorRT only: weakly typed builder flag instead of converting
    workspace_mb: int | None = None  # None: TensorRT's default (the device's memory)
    optimization_level: int | None = None  # 0..5; None: TensorRT's default (3)
    timing_cache: str = ""  # file loaded before and saved after the build
    plugins: list[str] = field(default_factory=list)  # plugin libraries to load (native code)
    hardware_compatibility: str = "none"  # one of HARDWARE_COMPATIBILITY
    version_compatible: bool = False
    compute_capabilities: list[str] = field(default_factory=list)  # TensorRT-RTX targets, e.g. ["SM86"]
    detailed_profiling: bool = False

    def to_dict(self) -> dict:
        """The recipe's ``[build]`` table: only what differs from the defaults (TOML has no null)."""
        default = BuildSettings()
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) != getattr(default, f.name)}

    @classmethod
    def from_dict(cls, data: dict) -> "BuildSettings":
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise WorkbenchError(f"Unknown build setting(s): {', '.join(sorted(unknown))}.",
                                 f"Known settings: {', '.join(sorted(names))}.")
        settings = cls(**data)
        settings.plugins = list(settings.plugins)
        settings.compute_capabilities = list(settings.compute_capabilities)
        return settings

    def uses_conversion(self, backend: Backend) -> bool:
        """FP16 by converting the model (always on strongly typed TensorRT-RTX)."""
        return self.precision == "fp16" and (backend.strongly_typed_only or not self.precision_by_flag)

    def problems_with(self, backend: Backend) -> list[str]:
        """Why these settings cannot be built with ``backend``; empty when they can."""
        unavailable = backend.unavailable_build_options()
        found = []
        if self.precision not in PRECISIONS:
            found.append(f"Unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}.")
        elif f"precision:{self.precision}" in unavailable:
            found.append(unavailable[f"precision:{self.precision}"])
        if self.precision_by_flag and "precision_by_flag" in unavailable:
            found.append(unavailable["precision_by_flag"])
        if self.hardware_compatibility not in HARDWARE_COMPATIBILITY:
            found.append(f"Unknown hardware compatibility {self.hardware_compatibility!r}; choose one of "
                         f"{', '.join(HARDWARE_COMPATIBILITY)}.")
        checks = {"hardware_compatibility": self.hardware_compatibility != "none",
                  "version_compatible": self.version_compatible, "timing_cache": bool(self.timing_cache),
                  "compute_capabilities": bool(self.compute_capabilities)}
        found += [unavailable[name] for name, used in checks.items() if used and name in unavailable]
        if COMPUTE_CAPABILITY_CURRENT in self.compute_capabilities and len(self.compute_capabilities) > 1:
            found.append(f"{COMPUTE_CAPABILITY_CURRENT} (the GPU the build runs on) cannot be combined with explicit "
                         "compute-capability targets; choose it alone or list the targets.")
        targets = set(backend.compute_capability_targets())
        found += [f"Unknown compute capability {name!r}; choose from {', '.join(sorted(targets))}."
                  for name in self.compute_capabilities if targets and name not in targets]
        if self.optimization_level is not None and not 0 <= self.optimization_level <= 5:
            found.append(f"Builder optimization level {self.optimization_level} is out of range (0 to 5).")
        if self.workspace_mb is not None and self.workspace_mb <= 0:
            found.append(f"Workspace limit {self.workspace_mb} MiB must be positive.")
        found += [f"Plugin library not found: {path}" for path in self.plugins if not Path(path).is_file()]
        return found


@dataclass(frozen=True)
class CommandFlags:
    """One build setting on the reproduction command lines (``build/commands.py``): its value → the arguments."""

    trtexec: Callable[[Any], list[str]]
    polygraphy: Callable[[Any], list[str]]


_TRTEXEC_HARDWARE_COMPATIBILITY = {"ampere_plus": "ampere+", "same_compute_capability": "sameComputeCapability"}


def _trtexec_targets(targets: list[str]) -> list[str]:
    explicit = [t.removeprefix("SM") for t in targets if t != COMPUTE_CAPABILITY_CURRENT]
    return ([f"--computeCapabilities={','.join(explicit)}"] if explicit else []) + \
        (["--useGpu"] if COMPUTE_CAPABILITY_CURRENT in targets else [])


# Every ``BuildSettings`` field as trtexec and Polygraphy flags, in command-line order; a setting at its default
# adds nothing. ``precision`` and ``precision_by_flag`` are not here: with the backend they decide between a
# precision flag and a converted model (``commands``). tests/core/build/test_build.py checks that no field is missing.
COMMAND_FLAGS: dict[str, CommandFlags] = {
    "workspace_mb": CommandFlags(lambda mb: [f"--memPoolSize=workspace:{mb}M"],
                                 lambda mb: ["--pool-limit", f"workspace:{mb}M"]),
    "optimization_level": CommandFlags(lambda level: [f"--builderOptimizationLevel={level}"],
                                       lambda level: ["--builder-optimization-level", str(level)]),
    "timing_cache": CommandFlags(lambda path: [f"--timingCacheFile={path}"],
                                 lambda path: ["--timing-cache", path, "--load-timing-cache", path]),
    "plugins": CommandFlags(lambda paths: [f"--dynamicPlugins={path}" for path in paths],
                            lambda paths: ["--plugins", *paths]),
    "hardware_compatibility": CommandFlags(
        lambda level: [f"--hardwareCompatibilityLevel={_TRTEXEC_HARDWARE_COMPATIBILITY[level]}"],
        lambda level: ["--hardware-compatibility-level", level]),
    "version_compatible": CommandFlags(lambda _on: ["--versionCompatible"], lambda _on: ["--version-compatible"]),
    # Polygraphy has no option for TensorRT-RTX's compute-capability targets.
    "compute_capabilities": CommandFlags(_trtexec_targets, lambda _targets: []),
    "detailed_profiling": CommandFlags(lambda _on: ["--profilingVerbosity=detailed"],
                                       lambda _on: ["--profiling-verbosity", "detailed"]),
}


@dataclass
class EngineTensor:
    name: str
    dtype: str
    shape: list[int]  # -1 for dimensions chosen at run time
    shape_tensor: bool = False
    profile_shapes: list[dict] = field(default_factory=list)  # per profile: {"min", "opt", "max"}


@dataclass
class EngineLayer:
    name: str
    type: str
    tactic: str = ""


@dataclass
class BuildResult:
    succeeded: bool
    model_name: str
    backend: str
    settings: BuildSettings
    profiles: list[Profile]
    engine_path: str = ""  # empty when the build did not save an engine
    engine_bytes: int = 0
    build_seconds: float = 0.0  # TensorRT's build call
    total_seconds: float = 0.0  # everything build_engine did (conversion, child, writing)
    inputs: list[EngineTensor] = field(default_factory=list)
    outputs: list[EngineTensor] = field(default_factory=list)
    layers: list[EngineLayer] = field(default_factory=list)
    layer_source: str = ""
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    precision_label: str = ""  # what the engine's precision comes from, e.g. "FP16 (converted)", "INT8 (Q/DQ)"
    finished_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["settings"] = self.settings.to_dict()
        data["profiles"] = profiles_to_recipe(self.profiles)
        return data

    def describe(self, list_layers: bool = False) -> str:
        """The engine (file, size, times, tensors per profile, layers) or, for a failed build, its problems."""
        if not self.succeeded:
            return "\n".join([f"The build of {self.model_name} failed with {self.backend}:",
                              *(problem.describe() for problem in self.problems)])
        lines = [f"Engine: {self.engine_path or '(not saved)'}",
                 f"Size: {self.engine_bytes / 2**20:.2f} MiB   Build time: {self.build_seconds:.2f} s "
                 f"(total {self.total_seconds:.2f} s)",
                 f"Backend: {self.backend}   Precision: {self.precision_label or self.settings.precision.upper()}   "
                 f"Profiles: {len(self.profiles)}", ""]
        for label, tensors in (("Input", self.inputs), ("Output", self.outputs)):
            for t in tensors:
                lines.append(f"{label} {t.name}: {t.dtype} {t.shape}")
                what = "values" if t.shape_tensor else "shapes"
                lines += [f"    profile {i + 1} {what}: min {r['min']}  opt {r['opt']}  max {r['max']}"
                          for i, r in enumerate(t.profile_shapes)]
        lines.append("")
        if self.layers and list_layers:
            lines.append(f"{len(self.layers)} layers, from {self.layer_source}:")
            lines += [f"  {layer.type:12} {layer.name}" for layer in self.layers]
        elif self.layers:
            lines.append(f"{len(self.layers)} layers, from {self.layer_source}")
        else:
            lines.append(f"Layers: {self.layer_source}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


# Where layer information comes from: TensorRT's engine inspector needs a deserialized engine, and
# deserializing needs a GPU the engine can run on (TensorRT-RTX reports a CUDA error without one).
LAYERS_FROM_BUILD_LOG = ("the builder's log (the engine inspector needs a deserialized engine, which needs a "
                         "GPU the engine can run on)")


class BuildHistory:
    """The builds of this session, newest last, for comparing settings against outcomes."""

    def __init__(self):
        self.results: list[BuildResult] = []

    def add(self, result: BuildResult) -> None:
        self.results.append(result)

    def rows(self) -> list[dict]:
        """One flat row per build: outcome, figures, and the settings that differ from the previous build."""
        rows = []
        previous: dict | None = None
        for result in self.results:
            settings = {**result.settings.to_dict(), "profiles": profiles_to_recipe(result.profiles)}
            changed = sorted(k for k in set(settings) | set(previous or {})
                             if previous is not None and settings.get(k) != previous.get(k))
            rows.append({"ok": result.succeeded, "precision": result.precision_label or result.settings.precision,
                         "seconds": round(result.build_seconds, 3), "engine_mb": round(result.engine_bytes / 2**20, 2),
                         "profiles": len(result.profiles), "problems": len(result.problems),
                         "changed": ", ".join(changed) if previous is not None else "(first build)"})
            previous = settings
        return rows


def _build_child(backend_name: str) -> ChildProcess:
    """The build children of one backend, owned by the runtime: a spare is started (TensorRT imported) after
    each build."""
    return current_runtime().child_process(
        f"build:{backend_name}", lambda: ChildProcess(partial(load_backend, backend_name), one_call_per_child=True))


class BuilderCrashed(WorkbenchError):
    """The build process died (an internal assertion's abort, an out-of-memory kill); ``how`` says how."""

    def __init__(self, crash: ChildCrashed, log: list[LogMessage]):
        last = "\n".join(f"[{m.severity}] {m.text}" for m in log[-_LOG_LINES_IN_CRASH_DETAIL:])
        super().__init__(f"The TensorRT builder crashed: the build process {crash.how}.",
                         "The window and your model are unaffected. TensorRT hit an internal error or ran out of "
                         "memory; try a smaller workspace or profile, or fix the node named in the log.",
                         f"{crash.stderr_tail}\n{last}".strip())
        self.how = crash.how


def _engine_tensors(raw: list[dict], profiles: list[Profile]) -> list[EngineTensor]:
    tensors = []
    for item in raw:
        per_profile = [(p.values if item["shape_tensor"] else p.shapes).get(item["name"]) for p in profiles]
        tensors.append(EngineTensor(item["name"], item["dtype"], item["shape"], item["shape_tensor"],
                                    [r.to_dict() for r in per_profile if r is not None]))
    return tensors


def build_engine(model: LoadedModel, settings: BuildSettings, profiles: list[Profile],
                 output: str | os.PathLike | None = None, *, backend: Backend | None = None,
                 progress: ProgressFn | None = None, cancel: CancelToken | None = None,
                 log_sink: Callable[[LogMessage], None] | None = None, check_memory: bool = True) -> BuildResult:
    """Build ``model`` in a child process; write the engine to ``output`` (atomically) if given.

    ``check_memory``: refuse (``NotEnoughMemory``) a build estimated not to fit in the machine's memory.

    Returns a ``BuildResult`` (``succeeded=False`` with problems when TensorRT refuses the model).
    Raises ``Cancelled`` when ``cancel`` is set (no file is left behind), ``BuilderCrashed`` when the builder
    crashes and ``WorkbenchError`` for settings the backend lacks or profiles that do not fit.
    """
    started = time.perf_counter()
    backend = backend or load_backend()
    progress = progress or no_progress
    cancel = cancel or CancelToken()
    setting_problems = settings.problems_with(backend)
    if setting_problems:
        raise WorkbenchError(f"These build settings cannot be used with {backend.name} {backend.version}: "
                             f"{setting_problems[0]}", "Change the build settings.", "\n".join(setting_problems))
    check_profiles(profiles, model.summary().inputs)
    if check_memory:
        check_build_memory(model)
    output_path = Path(output).expanduser().resolve() if output else None
    if output_path is not None and not output_path.parent.is_dir():
        raise WorkbenchError(f"The folder {output_path.parent} does not exist.", "Choose an existing folder.")
    if output_path is not None and model.path is not None and output_path == Path(model.path).resolve():
        raise WorkbenchError("Refused to write the engine over the ONNX model.", "Choose another engine file name.")

    to_build = model
    strongly_typed = backend.strongly_typed_only or settings.precision == "fp32" or settings.uses_conversion(backend)
    if settings.uses_conversion(backend):
        progress("Converting the model to FP16 (default keep rules: numerically fragile ops stay FP32)", None)
        to_build = convert_model(model, "fp16")
    cancel.raise_if_cancelled("The build")

    temp_engine = None
    if output_path is not None:
        fd, temp_engine = tempfile.mkstemp(dir=output_path.parent, prefix=f".{output_path.name}.", suffix=".partial")
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_engine, 0o666 & ~umask)  # mkstemp's 0600 would make the engine private
    job = {"backend": backend.name, "settings": asdict(settings), "profiles": profiles_to_recipe(profiles),
           "strongly_typed": strongly_typed, "model_path": to_build.parser_path, "engine_path": temp_engine,
           "want_layers": settings.detailed_profiling, "abort_for_test": bool(os.environ.get(ABORT_SWITCH))}
    log: list[LogMessage] = []
    network: dict = {}

    def relay(event: dict) -> None:
        kind = event["type"]
        if kind == "log":
            message = LogMessage(event["severity"], event["text"])
            log.append(message)
            if log_sink is not None:
                log_sink(message)
        elif kind == "progress":
            progress(event["phase"], event["fraction"])
        elif kind == "network":
            network.update(event)

    try:
        try:
            result = _build_child(backend.name).call(build_in_child, job, to_build.serialized, cancel=cancel,
                                                     on_event=relay, cancel_grace_seconds=CANCEL_GRACE_SECONDS,
                                                     what="The build")
        except ChildCrashed as crash:
            raise BuilderCrashed(crash, log) from None
        result_model = BuildResult(
            succeeded=bool(result.get("ok")), model_name=model.name, backend=f"{backend.name} {backend.version}",
            settings=settings, profiles=[p.copy() for p in profiles],
            precision_label=precision_label(model, settings, backend),
            build_seconds=result.get("seconds", 0.0), warnings=result.get("warnings", []),
            inputs=_engine_tensors(network.get("inputs", []), profiles),
            outputs=_engine_tensors(network.get("outputs", []), profiles))
        if result_model.succeeded:
            result_model.engine_bytes = result["engine_bytes"]
            result_model.layers = [EngineLayer(**layer) for layer in result["layers"]]
            result_model.layer_source = (LAYERS_FROM_BUILD_LOG if settings.detailed_profiling else
                                         "none: turn on detailed profiling to list the engine's layers")
            if temp_engine is not None and output_path is not None:  # a temporary file only for an output
                os.replace(temp_engine, output_path)
                temp_engine = None
                result_model.engine_path = str(output_path)
        else:
            result_model.problems = (map_parser_errors(result.get("parser_errors", []), to_build)
                                     + map_builder_errors(result.get("errors", []), to_build, settings.workspace_mb,
                                                          profiles))
    finally:
        if temp_engine is not None:
            Path(temp_engine).unlink(missing_ok=True)
    result_model.total_seconds = time.perf_counter() - started
    return result_model

