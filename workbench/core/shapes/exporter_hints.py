"""What exporters write about a model's deployment sizes, outside the graph: metadata and side files.

- **Ultralytics** writes metadata props: ``imgsz`` ("[640, 640]") is read here (``batch`` is read like every
  metadata entry named after a dim; the stride the graph itself says).
- **Hugging Face** exports (Optimum, ``save_pretrained``) sit beside ``config.json``
  (``max_position_embeddings``, ``n_positions``, ``max_target_positions``, ``max_source_positions``,
  ``image_size``), ``generation_config.json`` and ``preprocessor_config.json`` (an image processor's
  ``size``/``crop_size``, an audio feature extractor's ``nb_max_frames``). Hub repositories often keep the
  ONNX files in an ``onnx/`` folder under them, so the parent folder is read too.
- **PaddleOCR** models (paddle2onnx) follow PaddleOCR's inference sizes: recognizer 3 × 48 × 320, direction
  classifier 3 × 48 × 192, detector sides a multiple of 32 (960 at most by default).

Each value carries the file or key it came from; nothing here is a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from workbench.core.model.loading import LoadedModel

_SIDE_FILES = ("config.json", "generation_config.json", "preprocessor_config.json")
_MAX_SIDE_FILE_BYTES = 4 * 1024 * 1024  # a config is kilobytes; anything larger is not one
_DECODER_CONTEXT_KEYS = ("max_target_positions", "n_positions", "max_position_embeddings", "n_ctx",
                         "max_sequence_length", "seq_length")
_PADDLE_PRODUCERS = re.compile(r"paddle", re.IGNORECASE)
# PaddleOCR's documented inference sizes (tools/infer/utility.py: rec_image_shape "3, 48, 320",
# cls_image_shape "3, 48, 192", det_limit_side_len 960 with sides rounded to multiples of 32).
PADDLE_RECOGNIZER = (48, 320)
PADDLE_CLASSIFIER = (48, 192)
PADDLE_DETECTOR_SIDE = 960


@dataclass(frozen=True)
class Hint:
    value: int
    reason: str  # "config.json: max_position_embeddings = 256"


@dataclass
class ExporterHints:
    """Sizes the exporter stated; ``None`` where it said nothing."""

    image_size: tuple[Hint, Hint] | None = None  # (height, width)
    context: Hint | None = None  # a decoder's longest sequence (prompt + generated)
    encoder_length: Hint | None = None  # the encoder's output length cross-attention reads (Whisper: 1500)
    audio_frames: Hint | None = None  # feature frames an audio encoder takes (Whisper: 3000)
    text_length: Hint | None = None  # a text encoder's position table (CLIP: 77)
    paddle: bool = False  # exported by paddle2onnx (PaddleOCR's conventions apply)


def read_hints(model: LoadedModel) -> ExporterHints:
    hints = ExporterHints()
    metadata = {p.key: p.value for p in model.proto.metadata_props}
    _read_ultralytics(metadata, hints)
    producer = model.proto.producer_name or ""
    hints.paddle = bool(_PADDLE_PRODUCERS.search(producer)) or any(
        node.name.startswith("p2o.") for node in model.proto.graph.node[:50])
    if model.path is not None:
        for name, config in _side_files(Path(model.path)).items():
            _read_config(name, config, hints)
    return hints


def _read_ultralytics(metadata: dict[str, str], hints: ExporterHints) -> None:
    size = _integers(metadata.get("imgsz", ""))
    if len(size) in (1, 2) and all(v > 0 for v in size):
        height, width = (size * 2)[:2]
        reason = f"the model's metadata says imgsz = {metadata['imgsz']}"
        hints.image_size = (Hint(height, reason), Hint(width, reason))


def _integers(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"\d+", text)] if re.fullmatch(r"[\[\(\s\d,\]\)]+", text or "-") else []


def _side_files(path: Path) -> dict[str, dict]:
    """The exporter's JSON side files in the model's folder, else its parent's (hub repos' ``onnx/``)."""
    for folder in (path.parent, path.parent.parent):
        found = {}
        for name in _SIDE_FILES:
            candidate = folder / name
            try:
                if candidate.is_file() and candidate.stat().st_size <= _MAX_SIDE_FILE_BYTES:
                    data = json.loads(candidate.read_text(encoding="utf-8"))
                    if isinstance(data, dict):
                        found[name] = data
            except (OSError, ValueError):
                continue  # an unreadable or malformed side file says nothing
        if found:
            return found
    return {}


def _positive(data: dict, key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _read_config(name: str, data: dict, hints: ExporterHints) -> None:
    if name == "config.json":
        for key in _DECODER_CONTEXT_KEYS:
            value = _positive(data, key)
            if value is not None and hints.context is None:
                hints.context = Hint(value, f"{name}: {key} = {value}")
        value = _positive(data, "max_source_positions")
        if value is not None:
            hints.encoder_length = Hint(value, f"{name}: max_source_positions = {value} (the encoder's output length)")
        text = data.get("text_config") if isinstance(data.get("text_config"), dict) else None
        value = _positive(text or data, "max_position_embeddings") if (text or data.get("model_type") in
                                                                        ("clip_text_model", "clip")) else None
        if value is not None:
            hints.text_length = Hint(value, f"{name}: max_position_embeddings = {value} of the text encoder")
        value = _positive(data, "image_size")
        if value is not None and hints.image_size is None:
            reason = f"{name}: image_size = {value}"
            hints.image_size = (Hint(value, reason), Hint(value, reason))
    elif name == "preprocessor_config.json":
        frames = _positive(data, "nb_max_frames")
        if frames is not None:
            hints.audio_frames = Hint(frames, f"{name}: nb_max_frames = {frames}")
        for key in ("crop_size", "size"):
            size = data.get(key)
            height = width = None
            if isinstance(size, dict):
                height, width = _positive(size, "height"), _positive(size, "width")
                if height is None and _positive(size, "shortest_edge"):
                    height = width = _positive(size, "shortest_edge")
            elif isinstance(size, int) and size > 0:
                height = width = size
            if height and width:
                reason = f"{name}: {key} = {size}"
                hints.image_size = (Hint(height, reason), Hint(width, reason))
                break
