"""What a dimension's name says, and which dims of a model's inputs share one.

TensorRT's ONNX parser takes dims that share a name to be one dimension: every optimization profile
must give them one value. A real symbolic name (``batch`` on several inputs, torch.export's ``s0``) is
shared because the dims are one. Placeholders an exporter writes for every dynamic dim alike (``?`` from
paddle2onnx, onnxruntime's ``unk__N``, ``-1``) say nothing: dims that share one need not be equal, and
TensorRT would still force them to be (an image whose H and W are both ``?`` builds only square).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.core.model.loading import TensorInfo

_PLACEHOLDER = re.compile(r"^(\?+|unk_*\d*|unknown|-1|none|null|dynamic|\*)$", re.IGNORECASE)
_IMAGE_AXES = {"N": "batch", "C": "channels", "H": "height", "W": "width"}
_MAX_IMAGE_CHANNELS = 4  # RGB(A), grey: a static dim this small in an image is its channel dim


def is_placeholder(name) -> bool:
    """True for names that say nothing about the dim (``?``, ``unk__12``, ``-1``)."""
    return isinstance(name, str) and bool(_PLACEHOLDER.match(name.strip()))


def image_layout(shape) -> str | None:
    """"NCHW" or "NHWC" for a rank-4 shape (NHWC when its last dim, not its second, is a small static
    channel count), None for other ranks."""
    if shape is None or len(shape) != 4:
        return None
    small = [isinstance(d, int) and 0 < d <= _MAX_IMAGE_CHANNELS for d in shape]
    return "NHWC" if small[3] and not small[1] else "NCHW"


def axis_role(shape, axis: int) -> str:
    """The axis as a word for a dim name: batch, channels, height or width of an image, else ``dim<axis>``."""
    layout = image_layout(shape)
    return _IMAGE_AXES[layout[axis]] if layout else f"dim{axis}"


@dataclass(frozen=True)
class DimUse:
    """One dim of a graph input or output: which tensor, which axis, and what the axis is."""

    tensor: str
    axis: int
    role: str

    def text(self) -> str:
        return f"{self.tensor}[{self.axis}]" + ("" if self.role == f"dim{self.axis}" else f" ({self.role})")


def dim_uses(tensors: list[TensorInfo], name: str) -> list[DimUse]:
    """Every dim of ``tensors`` named ``name``."""
    return [DimUse(t.name, axis, axis_role(t.shape, axis)) for t in tensors
            for axis, declared in enumerate(t.shape or ()) if declared == name]


def shared_dim_names(tensors: list[TensorInfo]) -> dict[str, list[DimUse]]:
    """Each dim name that more than one dim of ``tensors`` carries → those dims, in input order."""
    names = dict.fromkeys(d for t in tensors for d in (t.shape or ()) if isinstance(d, str) and d)
    uses = {name: dim_uses(tensors, name) for name in names}
    return {name: found for name, found in uses.items() if len(found) > 1}


def roles_differ(uses: list[DimUse]) -> bool:
    """Whether dims sharing a name differ in what they are (H and W, batch and H), so that equal values are
    a constraint the model does not have; dims in the same place of several inputs are usually one."""
    return len({use.role for use in uses}) > 1
