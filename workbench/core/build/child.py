"""What runs in the engine-build child process (``isolation.ChildProcess``, one build per child).

TensorRT can abort the whole process on an internal assertion or exhaust memory, so builds run
in a child, never in the app. ``build_in_child`` gets the job (backend, settings, profiles, engine
path) and the model's bytes; it streams events ``{"type": "log"|"progress"|"network", ...}`` and
returns the outcome ``{"type": "result"|"cancelled", ...}``. The builder's progress monitor stops
the build at its next step once the parent asks to cancel. Imports stay minimal: no onnx, no numpy.
"""

from __future__ import annotations

import os
import time

from workbench.core.runtime import load_backend
from workbench.core.isolation.serve import ChildCall

# A stand-in for a TensorRT internal assertion, for tests of crash isolation (the job carries it).
ABORT_SWITCH = "TRT_WORKBENCH_TEST_ABORT_BUILD"
_STEP_REPORT_SECONDS = 0.05
_FORWARDED_SEVERITIES = ("internal_error", "error", "warning", "info")
_LAYERS_HEADER = "Layers:\n"


def _progress_monitor(trt, task: ChildCall, abort_for_test: bool):
    class Monitor(trt.IProgressMonitor):
        """Reports the innermost phase and the top-level fraction; returns False to cancel."""

        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self.phases: dict[str, tuple[str | None, int]] = {}
            self.top_step = 0
            self.top_steps = 1
            self.last_report = 0.0

        def phase_start(self, phase_name, parent_phase, num_steps):
            self.phases[phase_name] = (parent_phase, num_steps)
            if parent_phase is None:
                self.top_steps = max(num_steps, 1)
            self._report(phase_name, force=True)
            if abort_for_test and parent_phase is not None:
                os.abort()

        def step_complete(self, phase_name, step):
            if self.phases.get(phase_name, (None,))[0] is None:
                self.top_step = step + 1
            self._report(phase_name)
            return not task.cancel_requested.is_set()

        def phase_finish(self, phase_name):
            self.phases.pop(phase_name, None)

        def _report(self, phase_name, force=False):
            now = time.monotonic()
            if force or now - self.last_report >= _STEP_REPORT_SECONDS:
                self.last_report = now
                task.send({"type": "progress", "phase": phase_name,
                           "fraction": min(self.top_step / self.top_steps, 1.0)})

    return Monitor()


def _layers_from_log(text: str) -> list[dict]:
    """The builder's verbose "Layers:" message: one "Name: …, LayerType: …, …" line per engine layer."""
    layers = []
    for line in text[len(_LAYERS_HEADER):].splitlines():
        if not line.startswith("Name: "):
            continue
        name, _, rest = line[len("Name: "):].partition(", LayerType: ")
        layer_type = rest.split(",", 1)[0]
        tactic = rest.partition("TacticName: ")[2].split(",", 1)[0].strip()
        layers.append({"name": name, "type": layer_type, "tactic": tactic})
    return layers


def _configure(trt, backend, builder, network, config, job: dict) -> None:
    settings = job["settings"]
    if settings.get("workspace_mb"):
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(settings["workspace_mb"]) << 20)
    if settings.get("optimization_level") is not None:
        config.builder_optimization_level = int(settings["optimization_level"])
    if settings.get("detailed_profiling"):
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
    if settings.get("version_compatible"):
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    if settings.get("hardware_compatibility", "none") != "none":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.__members__[
            settings["hardware_compatibility"].upper()]
    targets = settings.get("compute_capabilities") or []
    if targets:
        config.num_compute_capabilities = len(targets)
        for index, name in enumerate(targets):
            config.set_compute_capability(trt.ComputeCapability.__members__[name], index)
    precision = settings.get("precision", "fp32")
    if precision != "fp32" and not job["strongly_typed"]:
        config.set_flag(backend.builder_precision_flags()[precision])
    for profile in job["profiles"]:
        optimization_profile = builder.create_optimization_profile()
        for name, rng in profile.get("shapes", {}).items():
            optimization_profile.set_shape(name, rng["min"], rng["opt"], rng["max"])
        for name, rng in profile.get("values", {}).items():
            optimization_profile.set_shape_input(name, rng["min"], rng["opt"], rng["max"])
        config.add_optimization_profile(optimization_profile)


def _tensors(network, getter, count) -> list[dict]:
    tensors = []
    for index in range(count):
        tensor = getter(index)
        tensors.append({"name": tensor.name, "dtype": str(tensor.dtype).rsplit(".", 1)[-1].lower(),
                        "shape": list(tensor.shape), "shape_tensor": bool(tensor.is_shape_tensor)})
    return tensors


def _load_timing_cache(config, path: str):
    data = b""
    if path and os.path.isfile(path):
        with open(path, "rb") as handle:
            data = handle.read()
    cache = config.create_timing_cache(data)
    config.set_timing_cache(cache, ignore_mismatch=True)


def _save_timing_cache(config, path: str) -> None:
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "wb") as handle:
        handle.write(config.get_timing_cache().serialize())
    os.replace(temp, path)


def build_in_child(task: ChildCall, job: dict, model_bytes: bytes) -> dict:
    try:
        return _build(task, job, model_bytes)
    except Exception as exc:  # reported as a failed build rather than a crash: the message is known
        return {"type": "result", "ok": False, "stage": "setup", "errors": [f"{type(exc).__name__}: {exc}"]}


def _build(task: ChildCall, job: dict, model_bytes: bytes) -> dict:
    backend = load_backend(job["backend"])
    trt = backend.trt
    layers: list[dict] = []

    def forward(message):
        if message.text.startswith(_LAYERS_HEADER):
            layers.extend(_layers_from_log(message.text))
        elif message.severity in _FORWARDED_SEVERITIES:
            task.send({"type": "log", "severity": message.severity, "text": message.text})

    logger = backend.logger(forward, min_severity="verbose" if job["want_layers"] else "info")
    builder, network, parser = backend.create_builder_network(logger, strongly_typed=job["strongly_typed"])
    settings = job["settings"]
    for library in settings.get("plugins", []):
        builder.get_plugin_registry().load_library(library)
    task.send({"type": "progress", "phase": "Parsing the model", "fraction": None})
    if not parser.parse(model_bytes, job.get("model_path")):
        errors = [parser.get_error(i) for i in range(parser.num_errors)]
        return {"type": "result", "ok": False, "stage": "parse", "errors": [],
                "parser_errors": [{"desc": e.desc(), "node_name": e.node_name(), "op": e.node_operator()}
                                  for e in errors]}
    task.send({"type": "network", "inputs": _tensors(network, network.get_input, network.num_inputs),
               "outputs": _tensors(network, network.get_output, network.num_outputs)})
    config = builder.create_builder_config()
    config.progress_monitor = _progress_monitor(trt, task, job.get("abort_for_test", False))
    _configure(trt, backend, builder, network, config, job)
    if settings.get("timing_cache"):
        _load_timing_cache(config, settings["timing_cache"])
    started = time.perf_counter()
    engine = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - started
    if task.cancel_requested.is_set():
        return {"type": "cancelled"}
    if engine is None:
        return {"type": "result", "ok": False, "stage": "build", "errors": logger.errors()}
    if job.get("engine_path"):
        with open(job["engine_path"], "wb") as handle:
            handle.write(engine)
    if settings.get("timing_cache"):
        _save_timing_cache(config, settings["timing_cache"])
    return {"type": "result", "ok": True, "engine_bytes": engine.nbytes, "seconds": seconds, "layers": layers,
            "warnings": [m.text for m in logger.messages if m.severity == "warning"]}
