"""The report folder: the reduced model, ``repro.sh``, the passing neighbour, the environment, the error log,
for accuracy problems the inputs and onnxruntime's outputs, and a README in TensorRT's bug-report layout.

Nothing in it needs this project: ``repro.sh`` runs Python with ``tensorrt_rtx``/``tensorrt`` (or onnxruntime
and numpy for an accuracy problem) and lists NVIDIA's own command lines as alternatives. Every file is written
atomically; the user's model is never overwritten.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from workbench.core.backend import Backend
from workbench.core.build.commands import reproduction_commands
from workbench.core.build.engine import BuildSettings
from workbench.core.compare.metrics import Tolerances
from workbench.core.errors import WorkbenchError
from workbench.core.model.loading import save_model
from workbench.core.reduce.environment import environment_lines
from workbench.core.reduce.search import ReduceResult, ReduceStatus
from workbench.core.reduce.signature import NAME, FailureStage
from workbench.core.files import write_atomically

REDUCED, TEST, NEIGHBOUR = "reduced.onnx", "reduced_test.onnx", "passing_neighbour.onnx"
SCRIPT, ENVIRONMENT, ERROR_LOG, README = "repro.sh", "environment.txt", "error.log", "README.md"
INPUTS, OUTPUTS, RESULT = "inputs.npz", "onnxruntime_outputs.npz", "reduce.json"
CHECK, EXPECTED = "repro_check.py", "expected.json"
_PLACEHOLDERS = re.compile(rf"{re.escape(NAME)}|#")


def prepare_bundle_folder(output_dir: str | os.PathLike, model_path: Path | None) -> Path:
    """``output_dir`` checked before any work: a folder or nothing yet (``write_bundle`` creates it), in an existing
    folder, and not the folder holding the model under one of the bundle's file names."""
    folder = Path(output_dir).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise WorkbenchError(f"{folder} is a file, not a folder.", "Give a folder for the report (-o DIR).")
    if not folder.parent.is_dir():
        raise WorkbenchError(f"The folder {folder.parent} does not exist.", "Choose an existing parent folder.")
    if model_path is not None and Path(model_path).resolve().parent == folder and \
            Path(model_path).name in (REDUCED, TEST, NEIGHBOUR):
        raise WorkbenchError("The report would overwrite the model it reduces.", "Choose another output folder.")
    return folder


def _write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Readable by everyone by default (a report to share), unlike a temporary file's 0o600."""
    return write_atomically(path, data, mode)


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """The arrays as np.savez writes them (one NAME.npy each, stored), without its keyword arguments: numpy 2.1 takes
    an array named allow_pickle for its flag."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def _tolerances(result: ReduceResult) -> Tolerances:
    assert result.tolerances is not None, "reduce_model keeps the tolerances of every comparison it reduces"
    return result.tolerances


def expected_failure(result: ReduceResult) -> dict:
    """What repro.sh checks: stage, code, op and the fixed parts of the message pattern, in order."""
    signature = result.target.signature
    data: dict[str, object] = {
        "stage": str(signature.stage), "code": signature.code, "op": signature.op,
        "fragments": [f.strip() for f in _PLACEHOLDERS.split(signature.pattern) if f.strip()],
        "signature": signature.text(), "model": REDUCED, "profiles": [p.to_dict() for p in result.profiles],
        "nodes": {node.name: node.op_type for node in result.reduced.proto.graph.node if node.name}}
    if signature.stage == FailureStage.COMPARE:
        tolerances = _tolerances(result)
        data.update(test_model=TEST, atol=tolerances.atol, rtol=tolerances.rtol)
    return data


def repro_script(result: ReduceResult, backend: Backend) -> str:
    signature = result.target.signature
    commands = reproduction_commands(REDUCED, "reduced.engine", BuildSettings(), result.profiles, backend)
    alternatives = [f"#   {commands['trtexec']}", f"#   {commands['polygraphy']}"]
    if signature.stage == FailureStage.COMPARE:
        alternatives = ["#   on a GPU, the engine against onnxruntime on the same inputs:",
                        f"#   polygraphy run {REDUCED} --trt --onnxrt --atol {_tolerances(result).atol} "
                        f"--rtol {_tolerances(result).rtol}"
                        + (" (with POLYGRAPHY_USE_TENSORRT_RTX=1)" if backend.is_rtx else "")]
    needs = ("onnxruntime and numpy" if signature.stage == FailureStage.COMPARE else
             "tensorrt_rtx (pip install tensorrt-rtx) or tensorrt")
    return "\n".join([
        "#!/usr/bin/env bash",
        f"# Reproduces: {signature.text()}",
        f"# Reduced by trt-workbench reduce: {result.original_nodes} → {len(result.reduced_nodes)} nodes. "
        f"Needs python with {needs}.",
        "# Exit status 1 and 'REPRODUCED: …' when the failure shows; 0 and 'NOT reproduced' when it does not.",
        "# The same with NVIDIA's tools:", *alternatives,
        'cd "$(dirname "$0")" || exit 2',
        f"exec python {CHECK}", ""])


def readme(result: ReduceResult, environment: list[str], files: list[str], backend: Backend) -> str:
    signature = result.target.signature
    what = {FailureStage.PARSE: "TensorRT's ONNX parser rejects the model",
            FailureStage.BUILD: "TensorRT's builder fails on the model",
            FailureStage.COMPARE: "TensorRT's outputs differ from onnxruntime's"}[signature.stage]
    status = "" if result.status == ReduceStatus.REDUCED else f"\n\n**Note:** {result.message}"
    inputs = "\n".join(f"- `{i['name']}`: {i['dtype']} {i['shape']}" + (f" ({i['reason']})" if i["reason"] else "")
                       for i in result.inputs)
    commands = reproduction_commands(REDUCED, "reduced.engine", BuildSettings(), result.profiles, backend)
    return f"""## Description

{what}. The model was reduced from {result.original_nodes} to {len(result.reduced_nodes)} nodes
({', '.join(result.reduced_ops)}) that still fail with the same signature:

```
{signature.text()}
```

Full message:

```
{result.target.message.strip()}
```

Inputs of the reduced model:

{inputs}{status}

## Environment

{chr(10).join(f"- {line}" for line in environment)}

## Relevant Files

{chr(10).join(f"- `{name}`" for name in files)}

## Steps To Reproduce

```
bash repro.sh      # exits 1 and prints REPRODUCED when the failure shows
```

or with NVIDIA's tools:

```
{commands['trtexec']}
{commands['polygraphy']}
```
"""


def write_bundle(result: ReduceResult, folder: Path, backend: Backend, protect: Path | None = None) -> list[Path]:
    """Write the report into ``folder`` (see ``prepare_bundle_folder``); returns the files written."""
    folder.mkdir(exist_ok=True)
    written = [save_model(result.reduced.proto, folder / REDUCED, protect=protect)]
    if result.reduced_test is not None:
        written.append(save_model(result.reduced_test.proto, folder / TEST, protect=protect))
        written.append(_write(folder / INPUTS, _npz(result.feeds)))
        written.append(_write(folder / OUTPUTS, _npz(result.reference_outputs)))
    if result.neighbour is not None:
        written.append(save_model(result.neighbour.proto, folder / NEIGHBOUR, protect=protect))
    environment = environment_lines(backend)
    written.append(_write(folder / ENVIRONMENT, ("\n".join(environment) + "\n").encode()))
    log = [f"Original failure ({result.target.signature.text()}):", result.target.message.strip(), "",
           "The reduced model's last check:"] + [f"{f.signature.text()}\n{f.message.strip()}"
                                                   for f in result.final_failures]
    written.append(_write(folder / ERROR_LOG, ("\n".join(log) + "\n").encode()))
    written.append(_write(folder / EXPECTED, json.dumps(expected_failure(result), indent=1).encode()))
    written.append(_write(folder / CHECK, (Path(__file__).parent / CHECK).read_bytes()))
    written.append(_write(folder / SCRIPT, repro_script(result, backend).encode(), 0o755))
    written.append(_write(folder / RESULT, json.dumps(result.to_dict(), indent=1).encode()))
    names = [p.name for p in written] + [README]
    written.append(_write(folder / README, readme(result, environment, names, backend).encode()))
    return written
