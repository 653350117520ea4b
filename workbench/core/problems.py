"""The problem list: one record per thing standing between the model and a working engine.

Parser errors, unsupported subgraphs, builder errors, detector findings and compatibility notes
all become ``Problem`` objects, so the triage view, the CLI's JSON and the repair search read one
shape. Later stages add problems; nothing here knows about Qt.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import Enum

class NamedValue(str, Enum):
    """A named string constant: compares, formats and serialises (JSON, TOML) as its plain value, so the
    CLI's JSON and recipes read exactly as before. (``enum.StrEnum`` needs Python 3.11; we support 3.10.)"""

    def __str__(self) -> str:
        return self.value


class ProblemKind(NamedValue):
    """What a problem is about; the triage list groups by it and fixes are suggested from it."""

    PARSER_ERROR = "parser-error"  # the TensorRT parser refused a node
    UNSUPPORTED_SUBGRAPH = "unsupported-subgraph"  # nodes the capability check does not take
    PLUGIN_UNAVAILABLE = "plugin-unavailable"  # an op needs a plugin the backend does not ship
    INPUT_DTYPE = "input-dtype"  # an input type TensorRT does not take (or converts)
    RESIZE_MODE = "resize-mode"  # a Resize mode the parser refuses
    ONNXRUNTIME_COMPAT = "onnxruntime-compat"  # onnxruntime cannot run the model as it is
    DYNAMIC_INPUT = "dynamic-input"  # dynamic dimensions: an optimization profile is needed
    BAKED_SHAPE = "baked-shape"  # the export baked one size into a dim that says it is dynamic
    SHAPE_UNKNOWN = "shape-unknown"  # no realistic value found for a dynamic dim
    CONTROL_INPUT = "control-input"  # an input that steers branches or sizes at run time
    FLOAT_SHAPE_INPUT = "float-shape-input"  # a float input TensorRT takes as a shape tensor (which must be integer)
    SHARED_DIM_NAME = "shared-dim-name"  # input dims that share a name, which TensorRT takes to be equal
    FOLDABLE_CONSTANTS = "foldable-constants"
    UNUSED_INPUT = "unused-input"
    UNUSED_GRAPH_PARTS = "unused-graph-parts"
    GROUPNORM_PATTERN = "groupnorm-pattern"
    NMS = "nms"  # NonMaxSuppression, which the builder handles poorly or not at all
    TRIAL_BUILD_SHAPES = "trial-build-shapes"  # the shapes a trial build used, with their reasons
    SHAPE_RANGE = "shape-range"  # builds only for a narrower profile than the one suggested
    TRIAL_BUILD_SKIPPED = "trial-build-skipped"  # not run: the build would not fit in memory
    NO_PROFILE = "no-profile"  # the builder needs an optimization profile
    MISSING_SHAPE_VALUES = "missing-shape-values"  # a shape-tensor input without values
    WORKSPACE_TOO_SMALL = "workspace-too-small"
    OUT_OF_MEMORY = "out-of-memory"
    BUILDER_ERROR = "builder-error"  # any other builder refusal
    PRECISION_KEEP = "precision-keep"  # a node the precision bisect keeps in FP32


class Severity(NamedValue):
    """Most severe first (``severity_rank`` orders by it)."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Stage(NamedValue):
    """Where a problem was found: the ONNX graph itself, the parser, or the builder."""

    MODEL = "model"
    PARSE = "parse"
    BUILD = "build"


SEVERITIES = tuple(Severity)
STAGES = tuple(Stage)


@dataclass
class Problem:
    kind: str  # a ProblemKind
    severity: str  # a Severity
    message: str
    node: str = ""  # ONNX node name (a nested node's own name; ``parent`` names its If/Loop)
    op: str = ""
    stage: str = Stage.PARSE
    detail: str = ""  # full text for the detail view (parser/builder message)
    node_index: int | None = None  # index of the top-level node that holds it
    parent: str = ""
    inputs: list[str] = field(default_factory=list)  # graph inputs the problem is about
    fixes: list[str] = field(default_factory=list)  # names of catalogue fixes that address it
    hint: str = ""  # what to try

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {self.stage!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """Where it is, what TensorRT said, and what answers it (a catalogue fix or a hint), indented."""
        if self.node:
            where = f" [{' '.join(filter(None, [self.op, self.node]))}{' in ' + self.parent if self.parent else ''}]"
        else:
            where = f" [inputs: {', '.join(self.inputs)}]" if self.inputs else ""
        lines = [f"  {self.severity.upper():7} {self.stage}/{self.kind}{where}: {self.message}"]
        if self.fixes:
            lines.append(f"          fixes: {', '.join(self.fixes)}   (trt-workbench fix MODEL --apply NAME…, "
                         "or the Fixes panel)")
        elif self.hint:
            lines.append(f"          hint: {self.hint}")
        return "\n".join(lines)


def severity_rank(problem: Problem) -> int:
    return SEVERITIES.index(problem.severity)


def blocking(problems: list[Problem]) -> list[Problem]:
    """Problems that count for the CLI's exit code: errors and warnings, not informational notes."""
    return [p for p in problems if p.severity != "info"]


def concise_message(text: str) -> str:
    """The informative line of a TensorRT message, without source locations.

    Parser and builder texts start with "Invalid Node - name" and wrap the real reason in
    "[file.cpp::func::123] Error Code 2: … In func at /_src/…"; the detail view keeps the full text.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Invalid Node -")] or lines or [""]
    line = re.sub(r"^\[[^\]]*\]\s*", "", useful[0])
    return re.sub(r"\s+In \w+ at /\S+?(\))?$", r"\1", line)
