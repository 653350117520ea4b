"""Running the parts in sequence: each part's runner gets its inputs from the model's inputs and the
outputs of the parts before it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.core.backend import Backend
from workbench.core.runners import OnnxruntimeRunner, Runner, TensorRTRunner
from workbench.core.split.parts import Part
from workbench.core.split.partition import TENSORRT


def why_engine_cannot_run(engine_path: str | Path | None, backend: Backend | None) -> str:
    """"" when the engine can run here, else why not (no GPU, another backend's engine …)."""
    if not engine_path or backend is None:
        return "no engine was built"
    blocker = backend.engine_blocker(Path(engine_path).read_bytes())
    return f"the engine cannot run here: {blocker}" if blocker else ""


class ChainedRunner:
    """The parts as one runner: TensorRT parts as engines where one can run, else their ONNX under onnxruntime."""

    def __init__(self, parts: list[Part], output_names: list[str], engines: dict[int, str] | None = None,
                 backend: Backend | None = None, quick: bool = False):
        """``quick``: onnxruntime's basic optimizations only (``OnnxruntimeRunner``), for a chain that runs once."""
        self.parts = parts
        self.output_names = list(output_names)
        self.input_names = [n for p in parts for n in p.inputs if not any(n in q.outputs for q in parts)]
        self.where: dict[int, str] = {}  # part index → what runs it, with the reason for the ONNX fallback
        self.runners: list[Runner] = []
        for part in parts:
            engine = (engines or {}).get(part.index)
            blocker = why_engine_cannot_run(engine, backend) if part.runtime == TENSORRT else ""
            if part.runtime == TENSORRT and not blocker and engine and backend is not None:
                self.runners.append(TensorRTRunner(engine, backend))
                self.where[part.index] = f"{backend.name} engine {Path(engine).name}"
            else:
                self.runners.append(OnnxruntimeRunner(part.model, quick=quick))
                self.where[part.index] = "onnxruntime" + (f" (its ONNX: {blocker})" if blocker else "")
        self.label = "chained parts (" + " → ".join(self.where[p.index] for p in parts) + ")"

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors = dict(feeds)
        for part, runner in zip(self.parts, self.runners):
            tensors.update(runner.run({name: tensors[name] for name in part.inputs}))
        return {name: tensors[name] for name in self.output_names}

    def close(self) -> None:
        for runner in self.runners:
            runner.close()
