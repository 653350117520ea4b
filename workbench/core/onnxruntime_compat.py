"""What the installed onnxruntime accepts, and safe sessions for models it would refuse.

onnxruntime refuses models whose IR version is newer than it was built for ("Unsupported model IR
version: 14, max supported IR version: 13"), even when every op is one it knows. Lowering the IR
version is safe when the model uses no feature of the newer IR; the opset is a harder limit.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.core.errors import WorkbenchError
from workbench.core.files import write_atomically, xdg_dir
from workbench.core.model.ir_versions import (OLDEST_ONNXRUNTIME_MAX_IR, OLDEST_ONNXRUNTIME_MAX_OPSET,
                                               ir_version_at_most, required_ir_version)
from workbench.core.model.loading import iter_nodes
from workbench.core.model.protos import IR_VERSION, ModelProto, TensorProto

# Op domains onnxruntime has kernels for: ONNX, ONNX-ML and its own contrib ops.
_ONNXRUNTIME_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")
# What every onnxruntime pyproject.toml allows accepts: a model within it needs no probe, so an analysis does
# not import onnxruntime at all.
_ACCEPTED_BY_ALL_SUPPORTED = (OLDEST_ONNXRUNTIME_MAX_IR, OLDEST_ONNXRUNTIME_MAX_OPSET)
CACHE_VARIABLE = "TRT_WORKBENCH_CACHE"


@dataclass(frozen=True)
class RuntimeLimits:
    max_ir_version: int
    max_opset: int
    version: str  # the onnxruntime they are of


def _probe_error(ir_version: int, opset: int) -> str:
    import onnxruntime as ort
    from onnx import helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail type
        return str(exc)
    return ""


def _asked_limits() -> RuntimeLimits:
    """Ask onnxruntime itself (its error messages name its limits) instead of keeping a version table."""
    import onnx.defs
    import onnxruntime as ort

    ir_match = re.search(r"max supported IR version: (\d+)", _probe_error(999, 13))
    opset_match = re.search(r"ai\.onnx is till opset (\d+)", _probe_error(10, 999))
    return RuntimeLimits(int(ir_match.group(1)) if ir_match else IR_VERSION,
                         int(opset_match.group(1)) if opset_match else onnx.defs.onnx_opset_version(),
                         ort.__version__)


def _limits_cache_file() -> Path | None:
    """Where the limits of the installed onnxruntime are kept: the user's cache folder, under a name made from
    that installation's files (another version, or a reinstall, is asked again). None without onnxruntime."""
    spec = importlib.util.find_spec("onnxruntime")  # finds the package without running it
    if spec is None or not spec.origin:
        return None
    package = Path(spec.origin)
    stat = package.stat()
    key = hashlib.sha256(f"{package.resolve()}|{stat.st_mtime_ns}|{stat.st_size}".encode()).hexdigest()[:16]
    # The workbench's cache folder: $TRT_WORKBENCH_CACHE, else $XDG_CACHE_HOME/trt-workbench (~/.cache/trt-workbench).
    folder = Path(os.environ[CACHE_VARIABLE]) if os.environ.get(CACHE_VARIABLE) else \
        xdg_dir("XDG_CACHE_HOME", ".cache") / "trt-workbench"
    return folder / f"onnxruntime-limits-{key}.json"


@functools.lru_cache(maxsize=1)
def runtime_limits() -> RuntimeLimits:
    """The installed onnxruntime's limits, asked once per installation: an analysis of a model newer than every
    supported onnxruntime reads then needs neither onnxruntime nor onnx (importing them costs ~0.2 s). The cache
    is a convenience: a file that cannot be read or written is asked again."""
    try:
        cache = _limits_cache_file()
    except (OSError, RuntimeError):  # no home folder (RuntimeError), an unreadable installation
        cache = None
    if cache is not None:
        try:
            return RuntimeLimits(**json.loads(cache.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            pass
    limits = _asked_limits()
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(cache, json.dumps(asdict(limits)))
        except OSError:
            pass
    return limits


def default_opset(proto: ModelProto) -> int:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def foreign_ops(proto: ModelProto) -> list[str]:
    """Ops (nested bodies included) onnxruntime has no kernel for because they are not ONNX ops, e.g.
    TensorRT plugins like EfficientNMS_TRT written into the default domain or a domain of their own."""
    known = onnx_op_names()
    return sorted({node.op_type for node, _ in iter_nodes(proto.graph)
                   if (node.domain in ("", "ai.onnx") and node.op_type not in known)
                   or node.domain not in _ONNXRUNTIME_DOMAINS})


@functools.lru_cache(maxsize=1)
def onnx_op_names() -> frozenset[str]:
    """Every op ONNX defines (in any domain it knows), from the installed onnx's schemas."""
    import onnx.defs

    return frozenset(schema.name for schema in onnx.defs.get_all_schemas())


def compatibility_issues(proto: ModelProto) -> list[str]:
    """Human-readable reasons onnxruntime would refuse this model as it is."""
    max_ir_version, max_opset = _ACCEPTED_BY_ALL_SUPPORTED
    if proto.ir_version <= max_ir_version and default_opset(proto) <= max_opset:
        return []
    limits = runtime_limits()
    issues = []
    if proto.ir_version > limits.max_ir_version:
        need = required_ir_version(proto)
        issues.append(f"IR version {proto.ir_version} is newer than onnxruntime {limits.version} supports "
                      f"(up to {limits.max_ir_version}); " +
                      ("comparisons run on a copy with the IR version lowered (the model uses nothing newer)."
                       if need.version <= limits.max_ir_version else
                       f"{need.reason} needs IR {need.version}, so onnxruntime cannot run this model."))
    if default_opset(proto) > limits.max_opset:
        issues.append(f"Opset {default_opset(proto)} is newer than onnxruntime {limits.version} supports "
                      f"(up to {limits.max_opset}); onnxruntime cannot run this model.")
    return issues


def for_onnxruntime(proto: ModelProto) -> ModelProto:
    """Return ``proto`` itself, or a copy with a lower IR version onnxruntime accepts: every model the workbench
    hands to onnxruntime passes here.

    Raises ``WorkbenchError`` when the opset is too new or the model needs the newer IR (a type it added), which
    no safe rewrite can fix.
    """
    limits = runtime_limits()
    if default_opset(proto) > limits.max_opset:
        raise WorkbenchError(compatibility_issues(proto)[-1], "Upgrade onnxruntime, or export with a lower opset.")
    target = ir_version_at_most(proto, limits.max_ir_version)
    if target == proto.ir_version:
        if proto.ir_version > limits.max_ir_version:
            need = required_ir_version(proto)
            raise WorkbenchError(f"onnxruntime {limits.version} reads ONNX IR versions up to {limits.max_ir_version}; "
                                 f"this model has IR {proto.ir_version} and {need.reason} needs IR {need.version}.",
                                 "Upgrade onnxruntime (pip install -U onnxruntime), or export the model without "
                                 f"{need.reason}.")
        return proto
    lowered = ModelProto()
    lowered.CopyFrom(proto)
    lowered.ir_version = target
    return lowered
