"""The oracles: does a candidate model fail, and how (its failures, each with a signature)?

* ``ParseOracle``: TensorRT's ONNX parser (``parse``, what ``trtexec`` and the builder run), in this process as
  the analysis runs it: the parser reports errors, it does not abort on them.
* ``BuildOracle``: a real build in the isolated build child (``build_engine``), so a builder abort ends the
  child, not us; the abort itself is a failure (code ``crash``).
* ``CompareOracle``: the cut of the reference model and the same cut of the model under test run under
  onnxruntime on the same boundary values (the original's, under onnxruntime), compared with the project's
  comparator (``compare_arrays``). Where no GPU runs engines, the model under test is a second ONNX model (a
  perturbed or converted copy with the same nodes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import onnx

from workbench.core.backend import Backend
from workbench.core.build.engine import BuilderCrashed, BuildSettings, build_engine
from workbench.core.compare.metrics import Tolerances, Verdict, compare_arrays
from workbench.core.runners import OnnxruntimeRunner
from workbench.core.model.loading import LoadedModel
from workbench.core.problems import Problem, ProblemKind
from workbench.core.progress import CancelToken
from workbench.core.reduce.signature import (CRASH_CODE, MISMATCH_CODE, Failure, FailureSignature, FailureStage,
                                             message_pattern)
from workbench.core.shapes.profiles import Profile, ShapeRange

COMPARE_KIND = "compare"  # the --problem kind of an accuracy failure (no ProblemKind: the comparator finds it)
_ERROR_CODE = re.compile(r"Error Code (\d+): ([A-Za-z ]+?)(?:\s*\(|$)", re.M)


@dataclass
class Candidate:
    """A checked sub-model of the original: the top-level nodes it keeps and what it reads and returns."""

    kept: frozenset[int]  # top-level node indices of the original (Constants not counted)
    proto: onnx.ModelProto
    inputs: list[str]
    outputs: list[str]
    boundary: list[str]  # inputs that are tensors the original computes (not its own inputs)
    test_proto: onnx.ModelProto | None = None  # the same cut of the model under test (comparisons)
    feeds: dict[str, np.ndarray] = field(default_factory=dict)  # every input's value (comparisons)


class Oracle(Protocol):
    stage: FailureStage

    def check(self, candidate: Candidate) -> list[Failure]: ...


def build_error_code(text: str) -> str:
    """"Error Code 2: Internal Error" from a TensorRT message, "" when it has none."""
    match = _ERROR_CODE.search(text)
    return f"Error Code {match.group(1)}: {match.group(2).strip()}" if match else ""


class ParseOracle:
    stage = FailureStage.PARSE

    def __init__(self, backend: Backend, names: frozenset[str]):
        self.backend = backend
        self.names = names

    def check(self, candidate: Candidate) -> list[Failure]:
        _builder, _network, parser = self.backend.create_builder_network(self.backend.logger(min_severity="error"))
        if parser.parse(candidate.proto.SerializeToString()):
            return []
        failures = []
        for index in range(parser.num_errors):
            error = parser.get_error(index)
            code = getattr(error.code(), "name", str(error.code()))
            signature = FailureSignature(self.stage, code, error.node_operator(),
                                         message_pattern(error.desc(), self.names))
            failures.append(Failure(signature, ProblemKind.PARSER_ERROR, error.node_name(), error.desc()))
        return failures


class BuildOracle:
    stage = FailureStage.BUILD

    def __init__(self, backend: Backend, names: frozenset[str], profiles: list[Profile],
                 cancel: CancelToken | None = None):
        self.backend = backend
        self.names = names
        self.profiles = profiles  # the original's (shape service or the user's); cut to each candidate's inputs
        self.cancel = cancel

    def profiles_for(self, candidate: Candidate) -> list[Profile]:
        """The original's profiles for the original inputs the candidate keeps (boundary inputs are static)."""
        kept = set(candidate.inputs)
        cut = [Profile({n: ShapeRange(r.min, r.opt, r.max) for n, r in p.shapes.items() if n in kept},
                       {n: ShapeRange(r.min, r.opt, r.max) for n, r in p.values.items() if n in kept})
               for p in self.profiles]
        return [p for p in cut if p.shapes or p.values]

    def check(self, candidate: Candidate) -> list[Failure]:
        model = LoadedModel.from_proto(candidate.proto)
        try:
            result = build_engine(model, BuildSettings(), self.profiles_for(candidate), backend=self.backend,
                                  cancel=self.cancel, check_memory=False)
        except BuilderCrashed as crash:
            signature = FailureSignature(self.stage, CRASH_CODE, "", message_pattern(crash.message, self.names))
            return [Failure(signature, ProblemKind.BUILDER_ERROR, "", f"{crash.message}\n{crash.detail}")]
        return [self._failure(problem) for problem in result.problems]

    def _failure(self, problem: Problem) -> Failure:
        text = problem.detail or problem.message
        stage = FailureStage.PARSE if problem.kind == ProblemKind.PARSER_ERROR else self.stage
        signature = FailureSignature(stage, build_error_code(text) or str(problem.kind), problem.op,
                                     message_pattern(text, self.names))
        return Failure(signature, str(problem.kind), problem.node, text)


class CompareOracle:
    stage = FailureStage.COMPARE

    def __init__(self, tolerances: Tolerances):
        self.tolerances = tolerances

    def outputs(self, proto: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with OnnxruntimeRunner(LoadedModel.from_proto(proto)) as runner:
            return runner.run({name: feeds[name] for name in runner.input_names})

    def check(self, candidate: Candidate) -> list[Failure]:
        assert candidate.test_proto is not None, "a comparison's candidates cut the model under test too"
        reference = self.outputs(candidate.proto, candidate.feeds)
        test = self.outputs(candidate.test_proto, candidate.feeds)
        failed = []
        for name, expected in reference.items():
            atol, rtol = self.tolerances.for_output(name)
            comparison = compare_arrays(name, expected, test[name], atol, rtol)
            if comparison.verdict == Verdict.FAIL:
                failed.append(f"{name}: max |err| {comparison.max_abs:.3g} — {comparison.reason}")
        if not failed:
            return []
        signature = FailureSignature(self.stage, MISMATCH_CODE, "", "outputs differ beyond the tolerances")
        return [Failure(signature, COMPARE_KIND, "", "The model under test differs from the reference:\n"
                        + "\n".join(failed))]
