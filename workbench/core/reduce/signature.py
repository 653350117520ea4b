"""What makes two failures "the same": the stage, the error code, the op and the message with names and
numbers taken out.

A reduced model that fails differently (another op, another error, a parse error where the original failed
to build) is not a reproduction of the original failure, so the oracle compares signatures, never "fails or
not". Names are taken out because a cut model names the same layer differently (TensorRT adds suffixes, a
myelin group lists other first/last nodes); numbers because shapes and counts change with the cut. The rest of
the text (an assertion, a quoted explanation) stays: it is what tells two failures apart.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from workbench.core.problems import NamedValue, concise_message
from workbench.core.build.builder_errors import match_name


class FailureStage(NamedValue):
    """Where the failure shows: TensorRT's parser, its builder, or the comparison of outputs."""

    PARSE = "parse"
    BUILD = "build"
    COMPARE = "compare"


# Codes of failures that carry none from TensorRT.
CRASH_CODE = "crash"  # the build process died (an abort inside TensorRT)
MISMATCH_CODE = "mismatch"  # outputs differ beyond the tolerances

_TOKEN = re.compile(r"[A-Za-z0-9_./:\-]*[A-Za-z0-9_]")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?")
NAME = "<name>"


def message_pattern(text: str, names: frozenset[str]) -> str:
    """The informative line of ``text`` with the model's node/tensor names as ``<name>`` and numbers as ``#``."""
    line = concise_message(text)
    line = _TOKEN.sub(lambda m: NAME if match_name(m.group(0), names) else m.group(0), line)
    return _NUMBER.sub("#", line).strip()


@dataclass(frozen=True)
class FailureSignature:
    stage: FailureStage
    code: str  # TensorRT's error code name, CRASH_CODE or MISMATCH_CODE
    op: str  # the op TensorRT named ("" when it named none)
    pattern: str  # message_pattern of the message

    def text(self) -> str:
        return f"{self.stage}/{self.code}{f' on {self.op}' if self.op else ''}: {self.pattern}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Failure:
    """One failure a check saw: its signature and what it was about."""

    signature: FailureSignature
    kind: str  # the ProblemKind it maps to (for --problem KIND[:NODE])
    node: str  # the node TensorRT named, "" when none
    message: str  # the full text

    def to_dict(self) -> dict:
        return {"signature": self.signature.to_dict(), "kind": self.kind, "node": self.node, "message": self.message}
