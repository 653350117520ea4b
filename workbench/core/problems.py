"""The problem list: one record per thing standing between the model and a working engine.

Parser errors, unsupported subgraphs, builder errors, detector findings and compatibility notes
all become ``Problem`` objects, so the triage view, the CLI's JSON and the repair search read one
shape. Later stages add problems; nothing here knows about Qt.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

SEVERITIES = ("error", "warning", "info")
STAGES = ("model", "parse", "build")


@dataclass
class Problem:
    kind: str  # e.g. "parser-error", "unsupported-subgraph", "dynamic-input", "builder-error"
    severity: str  # one of SEVERITIES
    message: str
    node: str = ""  # ONNX node name (a nested node's own name; ``parent`` names its If/Loop)
    op: str = ""
    stage: str = "parse"  # one of STAGES
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
