"""Realistic shapes for dynamic dimensions: one service for every place that needs concrete shapes.

A dynamic dimension is never silently 1. ``suggest_shapes`` gives every dynamic dimension of every
input a min/opt/max with the *source* and the *reason* of the value, strongest source first:

1. the user's optimization profile (or the recipe's), then shapes of loaded sample data;
2. **evidence**: what the graph pins down (``graph_facts``: the weights a dim meets, a recurrent state's
   layout, a vision transformer's patch size and the grid its position table was trained at, a position
   table bounding a sequence), what the exporter wrote (``exporter_hints``: Ultralytics metadata, Hugging Face
   ``config.json``/``preprocessor_config.json`` beside the model, PaddleOCR's conventions), and relations
   (``relations``: a dim named ``past_sequence_length + sequence_length`` is computed, never chosen);
3. **workloads** (``workloads``): a decoder with KV cache gets a prefill and a decode profile;
4. the dimension's name or position (batch, image H/W, sequence, samples…) and its kind's ladder;
5. the **probe** (``probe``): candidates run under onnxruntime, failures guiding the next candidates, every
   run estimated for memory first.

Batch-like dims are 1 (min = opt = max) by convention and say so. Where nothing runs, the suggestion says
so (``shape-unknown``) and asks instead of guessing; ``assumed`` lists every dim no evidence or run backs.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import onnx

from workbench.core.model.constant_values import ConstantValues
from workbench.core.model.dim_names import image_layout, is_placeholder
from workbench.core.model.input_roles import InputMeaning, InputRole, input_meanings, steered_nodes
from workbench.core.model.loading import LoadedModel, TensorInfo
from workbench.core.model.random_feeds import random_feeds
from workbench.core.model.switches import default_values
from workbench.core.progress import CancelToken
from workbench.core.runners import model_for_child, model_in_child, onnxruntime_child, runs_in_child
from workbench.core.runtime import current_runtime
from workbench.core.shapes.dims import LADDERS, DimKind, DimSuggestion, InputValue, Shape, ShapeSource, \
    ShapeSuggestion, Use
from workbench.core.shapes.exporter_hints import (PADDLE_CLASSIFIER, PADDLE_DETECTOR_SIDE, PADDLE_RECOGNIZER,
                                                   ExporterHints, Hint, read_hints)
from workbench.core.shapes.graph_facts import (RECURRENT_OPS, attribute, constant_shapes, consumers, direct_weight_dim,
                                               learned_position_table, patch_embedding, position_grid, recurrent_state,
                                               spatial_strides)
from workbench.core.shapes.probe import DEFAULT_PROBE_BUDGET_SECONDS, Prober, failure_text, point, probe_dims, \
    stride_text
from workbench.core.shapes.profiles import Profile, profile_from_samples
from workbench.core.shapes.relations import DimRelation, parse_relation
from workbench.core.shapes.workloads import WITH_PAST_FILE, context_length, decoder_workloads, find_kv_cache

_NAME_KINDS = (
    (DimKind.BATCH, re.compile(r"^(n|b|bs|batch.*|.*_batch|num_images|unk_batch|steps)$")),
    (DimKind.SPATIAL, re.compile(r"^(h|w|.*height.*|.*width.*|img_?h|img_?w|image_size|size)$")),
    (DimKind.SAMPLES, re.compile(r"^(.*samples?.*|wav.*|audio.*)$")),
    (DimKind.SEQUENCE, re.compile(r"^(t|l|s|seq.*|.*sequence.*|.*seq_len.*|.*length.*|len|time.*|frames?|"
                                  r"num_frames|tokens?|num_tokens|past.*|.*_len)$")),
    (DimKind.CHANNELS, re.compile(r"^(c|ch|channels?|num_channels)$")),
)
CLIP_TOKENS = 77  # the text length of CLIP-conditioned models (Stable Diffusion's text encoder)
LATENT_SIZE = 64  # a 512-pixel image's latent (Stable Diffusion's VAE scales by 8)


def _kind_from_name(name: str) -> DimKind | None:
    text = re.sub(r"[^a-z0-9_]", "_", name.lower()).strip("_")
    for kind, pattern in _NAME_KINDS:
        if pattern.match(text):
            return kind
    return None


def _meaningful_name(name) -> bool:
    """Exporter-generated names (``s0``, ``unk__12``, ``p2o.DynamicDimension.0``, ``?``) say nothing."""
    return isinstance(name, str) and bool(name) and not re.match(
        r"^(\?|s\d+|unk_*\d*|.*dynamicdimension.*|dim_?\d*|[a-z_]*dynamic_axes_\d+|n\d+)$", name.lower())


def _positional_kind(tensor: TensorInfo, axis: int, feeds_conv: bool) -> tuple[DimKind, str]:
    """The dim's kind from where it sits, and that place in words ("H of an NCHW image")."""
    shape = tensor.shape or ()
    rank = len(shape)
    layout = image_layout(shape)
    if layout:
        letter = layout[axis]
        kind = {"N": DimKind.BATCH, "C": DimKind.CHANNELS}.get(letter, DimKind.SPATIAL)
        return kind, f"{letter} of an {layout} image"
    if rank >= 2 and axis == 0:
        return DimKind.BATCH, f"axis 0 of a rank-{rank} input"
    if rank == 1:
        return DimKind.BATCH, "the only axis of a 1-D input"
    if rank == 3 and feeds_conv:
        return (DimKind.SAMPLES, "length of [batch, channels, length] fed to a Conv") if axis == 2 else \
            (DimKind.CHANNELS, "channels of [batch, channels, length]")
    if rank == 3:
        return (DimKind.SEQUENCE, "seq of [batch, seq, features]") if axis == 1 else \
            (DimKind.OTHER, f"axis {axis} of [batch, seq, features]")
    if rank == 2 and tensor.dtype.startswith(("int", "uint")):
        return DimKind.SEQUENCE, "seq of integer [batch, seq] (token ids)"
    if rank == 2:
        return DimKind.OTHER, "length of a [batch, length] input"
    return DimKind.OTHER, f"axis {axis} of a rank-{rank} input"


@dataclass
class _Fact:
    value: int
    source: ShapeSource
    reason: str


@dataclass
class _Analysis:
    dims: list[DimSuggestion]
    facts: dict[str, _Fact]  # label → a value the evidence pins (min = opt = max)
    states: list[str]
    relations: dict[Use, DimRelation]
    hints: ExporterHints


def _input_kind(tensor: TensorInfo, axis: int, recurrent, meaning: InputMeaning) -> tuple[DimKind, str] | None:
    """The dim's kind from what the input is (``input_meanings``: a state, a point list, a per-batch scalar,
    encoder states), or None when the dim's name or position decide."""
    rank = len(tensor.shape or ())
    last = (tensor.shape or (None,))[-1]
    if recurrent is not None:
        kind = DimKind.BATCH if axis == 1 else DimKind.OTHER
        return kind, f"'{tensor.name}' is a recurrent state [layers, batch, hidden]"
    if rank >= 3 and last in (2, 4) and meaning.role is InputRole.COORDINATES and axis < rank - 1:
        return (DimKind.BATCH if axis == 0 else DimKind.OTHER), f"'{tensor.name}' is a list of coordinates " \
                                                                f"[…, {last}]"
    if rank == 1 and meaning.role is InputRole.PER_BATCH_SCALAR:
        return DimKind.BATCH, f"'{tensor.name}' is one scalar per batch item (a diffusion timestep)"
    if rank == 3 and meaning.role is InputRole.ENCODER_STATES and axis == 1:
        return DimKind.SEQUENCE, f"'{tensor.name}' is a sequence of encoder states [batch, sequence, features]"
    return None


def _analyse_dims(model: LoadedModel) -> _Analysis:
    """The dynamic dims as variables (shared names merged, expressions related), their kinds, candidates and
    the evidence about them."""
    graph = model.proto.graph
    constants = ConstantValues(model.proto)
    consumer_map = consumers(graph)
    weight_shapes = constant_shapes(model.proto)
    metadata = {p.key.lower(): p.value for p in model.proto.metadata_props}
    hints = read_hints(model)
    inputs = model.summary().inputs
    meanings = input_meanings(model)
    variables: dict[str, DimSuggestion] = {}
    facts: dict[str, _Fact] = {}
    preferred: dict[str, tuple[list[int], str]] = {}
    states: list[str] = []
    kind_from: dict[str, str] = {}
    expressions: dict[Use, DimRelation] = {}
    for tensor in inputs:
        if tensor.shape is None:
            continue
        feeds_conv = any(n.op_type == "Conv" for n, _p in consumer_map.get(tensor.name, []))
        recurrent = recurrent_state(tensor.name, consumer_map) if len(tensor.shape) == 3 else None
        if recurrent is None and len(tensor.shape) == 3 and meanings[tensor.name].role is InputRole.STATE:
            recurrent = onnx.NodeProto(op_type="state")  # named so, but no recurrent op reads it directly
        if recurrent is not None:
            states.append(tensor.name)
        for axis in tensor.dynamic_dims:
            declared = tensor.shape[axis]
            relation = parse_relation(declared)
            if relation is not None:
                expressions[(tensor.name, axis)] = relation
                continue
            # Dims that share a name are one variable; placeholders that mean nothing ('?', onnxruntime's 'unk__N')
            # are each their own (TensorRT would force them equal: the rename-dims fix renames them).
            label = declared if isinstance(declared, str) and declared and not is_placeholder(declared) \
                else f"{tensor.name}[{axis}]"
            _add_use(variables, kind_from, tensor, axis, label, declared, feeds_conv, recurrent, meanings[tensor.name])
            dim = variables[label]
            if recurrent is not None and recurrent.op_type in RECURRENT_OPS and axis != 1:
                if axis == 2 and attribute(recurrent, "hidden_size"):
                    facts[label] = _Fact(int(attribute(recurrent, "hidden_size")), ShapeSource.GRAPH,
                                         f"{recurrent.op_type} '{recurrent.name}' has hidden_size "
                                         f"{attribute(recurrent, 'hidden_size')}")
                elif axis == 0:
                    directions = 2 if attribute(recurrent, "direction", b"forward") in (b"bidirectional",
                                                                                         "bidirectional") else 1
                    facts[label] = _Fact(directions, ShapeSource.GRAPH, f"{recurrent.op_type} '{recurrent.name}' "
                                                                        f"takes {directions} state slice(s)")
            weight = direct_weight_dim(tensor.name, axis, len(tensor.shape), consumer_map, weight_shapes)
            if weight is not None and label not in facts:
                facts[label] = _Fact(weight[0], ShapeSource.GRAPH, weight[1])
            if label not in facts and isinstance(declared, str) and declared.lower() in metadata:
                try:
                    facts[label] = _Fact(int(metadata[declared.lower()]), ShapeSource.METADATA,
                                         f"the model's metadata says {declared} = {metadata[declared.lower()]}")
                except ValueError:
                    pass
            if dim.kind is DimKind.OTHER and "coordinates" in kind_from[label]:
                facts.setdefault(label, _Fact(1, ShapeSource.CONVENTION, f"{kind_from[label]}: a prompt of one; set "
                                                                         "a larger max in the Profiles panel"))
        _image_evidence(model, tensor, variables, preferred, hints, consumer_map, constants, weight_shapes, meanings)
        _sequence_evidence(model, tensor, variables, facts, preferred, hints, consumer_map, meanings)
    # An expression over variables is computed from them; one over names used nowhere else is a free dim.
    relations = {}
    for (name, axis), relation in expressions.items():
        if all(symbol in variables for symbol in relation.symbols):
            relations[(name, axis)] = relation
        else:
            tensor = next(t for t in inputs if t.name == name)
            _add_use(variables, kind_from, tensor, axis, relation.label, relation.label, False, None,
                     meanings[tensor.name])
            # The dynamo exporter writes '14*h14': the dim is a multiple of 14 whatever it is.
            variables[relation.label].multiple_of = max(variables[relation.label].multiple_of, relation.factor())
            _image_evidence(model, tensor, variables, preferred, hints, consumer_map, constants, weight_shapes,
                            meanings)
            _sequence_evidence(model, tensor, variables, facts, preferred, hints, consumer_map, meanings)
    for label, dim in variables.items():
        dim.reason = kind_from[label]
        ladder = list(LADDERS[dim.kind])
        if dim.multiple_of > 1:
            # The ladder's sizes rounded to multiples of the stride (or a ViT's patch: 14 → 224, 322, 644…) first,
            # the others after: a stride orders the candidates, it never excludes one (PP-OCR runs at H = 48).
            step = dim.multiple_of
            rounded = list(dict.fromkeys(max(step, round(v / step) * step) for v in ladder))
            ladder = rounded + [v for v in ladder if v not in rounded]
        first, why = preferred.get(label, ([], ""))
        if first:
            ladder = list(dict.fromkeys(first + ladder))
            dim.reason = f"{dim.reason}; {why}"
        if dim.upper:
            ladder = [v for v in ladder if v <= dim.upper] or [dim.upper]
        dim.candidates = ladder
    return _Analysis(list(variables.values()), facts, states, relations, hints)


def _add_use(variables, kind_from, tensor: TensorInfo, axis: int, label: str, declared, feeds_conv: bool,
             recurrent, meaning: InputMeaning) -> None:
    name_kind = _kind_from_name(declared) if _meaningful_name(declared) else None
    from_input = _input_kind(tensor, axis, recurrent, meaning)
    if from_input is not None:
        kind, why = from_input
    elif name_kind is not None:
        kind, why = name_kind, f"named '{declared}'"
    else:
        kind, place = _positional_kind(tensor, axis, feeds_conv)
        why = f"{place} '{tensor.name}'"
    dim = variables.get(label)
    if dim is None:
        dim = variables[label] = DimSuggestion(label, [], kind)
        kind_from[label] = why
    elif dim.kind is not kind and (name_kind is not None or from_input is not None):
        dim.kind, kind_from[label] = kind, why
    dim.uses.append((tensor.name, axis))


def _image_axes(tensor: TensorInfo) -> tuple[int, int] | None:
    shape = tensor.shape or ()
    if len(shape) != 4:
        return None
    small = [isinstance(d, int) and 0 < d <= 4 for d in shape]
    return (1, 2) if small[3] and not small[1] else (2, 3)


def _image_evidence(model: LoadedModel, tensor: TensorInfo, variables, preferred, hints: ExporterHints,
                    consumer_map, constants, weight_shapes: dict[str, tuple[int, ...]],
                    meanings: dict[str, InputMeaning]) -> None:
    """Spatial dims of an image or latent input: the network's stride (or a ViT's patch) orders the candidates;
    the exporter's stated size, a position table's trained grid, PaddleOCR's sizes or a latent's 64 go first."""
    axes = _image_axes(tensor)
    if axes is None:
        return
    spatial = [(axis, variables[label]) for axis in axes for label in [_label_of(variables, tensor.name, axis)]
               if label is not None and variables[label].kind is DimKind.SPATIAL]
    if not spatial:
        return
    patch = patch_embedding(model.proto.graph, tensor.name, consumer_map)
    sizes: tuple[int, int] | None = None
    why = ""
    if patch is not None:
        height_patch, width_patch, conv = patch
        for axis, dim in spatial:
            dim.multiple_of = max(dim.multiple_of, height_patch if axis == axes[0] else width_patch)
        weight = weight_shapes.get(conv.input[1])
        grid = position_grid(model.proto, int(weight[0])) if weight else None
        if grid is not None:
            sizes = (grid[0] * height_patch, grid[0] * width_patch)
            why = f"patch embedding Conv '{conv.name}' cuts {height_patch}×{width_patch} patches and the position " \
                  f"table '{grid[1]}' holds a {grid[0]}×{grid[0]} grid: trained at {sizes[0]}×{sizes[1]}"
        else:
            why = f"patch embedding Conv '{conv.name}': multiples of the patch {height_patch}"
    else:
        strides = spatial_strides(model.proto.graph, tensor.name, constants)
        for axis, dim in spatial:
            dim.multiple_of = max(dim.multiple_of, strides[0] if axis == axes[0] else strides[1])
    channel_axis = 1 if axes == (2, 3) else 3
    channels = (tensor.shape or ())[channel_axis]
    if not isinstance(channels, int):  # a dynamic channel dim (Optimum's num_channels): the first Conv's weight says
        channel_weight = direct_weight_dim(tensor.name, channel_axis, 4, consumer_map, weight_shapes)
        channels = channel_weight[0] if channel_weight else channels
    if hints.image_size is not None:
        sizes = (hints.image_size[0].value, hints.image_size[1].value)
        why = hints.image_size[0].reason
    elif sizes is None and hints.paddle and channels == 3:
        recognizer = any(n.op_type in ("LSTM", "GRU") for n in model.proto.graph.node) or \
            any(len(o.shape or ()) == 3 for o in model.summary().outputs)
        classifier = not recognizer and all(len(o.shape or ()) == 2 for o in model.summary().outputs)
        if recognizer or classifier:
            sizes = PADDLE_RECOGNIZER if recognizer else PADDLE_CLASSIFIER
            why = f"PaddleOCR's {'recognizer' if recognizer else 'direction classifier'} input size " \
                  f"3×{sizes[0]}×{sizes[1]} (paddle2onnx export)"
        elif all(o.shape is not None and len(o.shape) == 4 and o.shape[1] == 1
                 for o in model.summary().outputs):  # a text map
            sizes = (PADDLE_DETECTOR_SIDE, PADDLE_DETECTOR_SIDE)
            why = f"PaddleOCR's detector limits the longer side to {PADDLE_DETECTOR_SIDE} (det_limit_side_len), " \
                  "sides multiples of 32 (paddle2onnx export)"
    elif sizes is None and channels == 4 and meanings[tensor.name].role is InputRole.LATENT:
        sizes = (LATENT_SIZE, LATENT_SIZE)
        why = f"'{tensor.name}' is a 4-channel latent: {LATENT_SIZE}×{LATENT_SIZE} is a 512-pixel image's latent"
    if sizes is not None:
        for axis, dim in spatial:
            value = sizes[0] if axis == axes[0] else sizes[1]
            candidates, _ = preferred.get(dim.label, ([], ""))
            preferred[dim.label] = (list(dict.fromkeys([value] + candidates)), why)


def _label_of(variables: dict[str, DimSuggestion], name: str, axis: int) -> str | None:
    return next((label for label, dim in variables.items() if (name, axis) in dim.uses), None)


def _sequence_evidence(model: LoadedModel, tensor: TensorInfo, variables, facts, preferred, hints: ExporterHints,
                       consumer_map, meanings: dict[str, InputMeaning]) -> None:
    """Sequence dims: an encoder's length from the config (cross-attention), a text encoder's position table,
    CLIP's 77 tokens for text-conditioned diffusion, an audio encoder's frames; the context bounds the rest."""
    shape = tensor.shape or ()  # a tensor of unknown rank has no dynamic dims
    for axis in tensor.dynamic_dims:
        label = _label_of(variables, tensor.name, axis)
        if label is None or label in facts:
            continue
        dim = variables[label]
        if dim.kind is DimKind.BATCH:
            continue
        dim_name = shape[axis]
        name = dim_name if isinstance(dim_name, str) else ""
        encoder_side = re.search(r"encoder", f"{tensor.name} {name}", re.IGNORECASE) and \
            not re.search(r"decoder", name, re.IGNORECASE)
        if encoder_side and hints.encoder_length is not None and (len(shape) != 3 or axis == 1) and \
                tensor.dtype.startswith("float") and len(shape) >= 3:
            facts[label] = _Fact(hints.encoder_length.value, ShapeSource.CONFIG, hints.encoder_length.reason)
        elif hints.audio_frames is not None and len(shape) == 3 and axis == 2 and \
                any(n.op_type == "Conv" for n, _p in consumer_map.get(tensor.name, [])):
            facts[label] = _Fact(hints.audio_frames.value, ShapeSource.CONFIG, hints.audio_frames.reason)
        elif dim.kind is DimKind.SEQUENCE and len(shape) == 3 and \
                meanings[tensor.name].role is InputRole.ENCODER_STATES:
            diffusion = any(m.role is InputRole.LATENT for m in meanings.values())
            if hints.text_length is not None or diffusion:
                value = hints.text_length.value if hints.text_length else CLIP_TOKENS
                why = hints.text_length.reason if hints.text_length else \
                    f"text embeddings conditioning a diffusion model: CLIP's {CLIP_TOKENS} tokens"
                facts[label] = _Fact(value, ShapeSource.CONFIG if hints.text_length else ShapeSource.CONVENTION, why)
        elif dim.kind is DimKind.SEQUENCE and tensor.dtype.startswith(("int", "uint")):
            positions = _position_bound(meanings[tensor.name]) or _learned_positions(model)
            bound = hints.text_length or hints.context
            if bound is not None:
                dim.upper, dim.upper_reason = bound.value, bound.reason
            if hints.text_length is not None:  # CLIP's tokenizer pads every prompt to its full length
                preferred[label] = ([hints.text_length.value], f"a CLIP text encoder runs padded to its "
                                                                f"{hints.text_length.value} positions")
            elif positions is not None:
                dim.upper, dim.upper_reason = positions.value, positions.reason


def _position_bound(meaning: InputMeaning) -> Hint | None:
    """How many positions position ids that index a table can address (``input_meanings``: the table's rows, less
    an offset added on the way), with the reason."""
    if meaning.role is InputRole.POSITION_IDS and meaning.high is not None and meaning.table:
        return Hint(int(meaning.high) + 1, meaning.reason)
    return None


def _learned_positions(model: LoadedModel) -> Hint | None:
    """The rows of a learned position table no input indexes directly (BERT's positions are computed inside)."""
    table = learned_position_table(model.proto)
    return Hint(table[0], f"the position table '{table[1]}' has {table[0]} rows") if table else None


def switch_values(model: LoadedModel) -> dict[str, InputValue]:
    """Values for small inputs that steer the graph (a sample rate, a ratio): the model's own hint,
    so probes and comparisons run the path the model takes in deployment, not a random one."""
    found = {}
    inputs = {t.name: t for t in model.summary().inputs}
    for name in steered_nodes(model.proto.graph, model.summary().inputs):
        tensor = inputs[name]
        value, source = default_values(model, name)[0]
        dtype = np.dtype(tensor.dtype) if tensor.dtype not in ("bfloat16", "undefined") else np.dtype(np.float32)
        shape = tensor.fixed_shape
        if shape is None:
            continue
        try:
            array = np.full(shape, value, dtype=dtype)
        except (TypeError, ValueError):
            continue
        found[name] = InputValue(name, array, f"switch input; value from {source}")
    return found


def _from_profile(dims: list[DimSuggestion], profile: Profile, source: ShapeSource, what: str) -> None:
    for dim in dims:
        for name, axis in dim.uses:
            rng = profile.shapes.get(name)
            if rng is not None and len(rng.opt) > axis:
                dim.min, dim.opt, dim.max = rng.min[axis], rng.opt[axis], rng.max[axis]
                dim.source, dim.reason = source, what
                break


def suggest_shapes(model: LoadedModel, *, profiles: list[Profile] | None = None,
                   sample_shapes: dict[str, list[Shape]] | None = None, probe: bool = True,
                   budget_seconds: float = DEFAULT_PROBE_BUDGET_SECONDS, seed: int = 0,
                   cancel: CancelToken | None = None) -> ShapeSuggestion:
    """Realistic min/opt/max for every dynamic dim of ``model``'s inputs, each with source and reason.

    Cached per model and arguments in the runtime (a ``LoadedModel`` does not change), so the trial build, parity,
    comparisons and the Profiles panel share one probe.
    """
    cache_key = (_profiles_key(profiles), repr(sorted((sample_shapes or {}).items())), probe, seed)
    shape_cache = current_runtime().shape_cache(model)
    with shape_cache.lock:  # a caller arriving while a prefetch probes waits for its answer instead of probing again
        cache = shape_cache.suggestions
        if cache_key not in cache:
            arguments = (profiles, sample_shapes, probe, budget_seconds, seed)
            if probe and runs_in_child(model):
                cache[cache_key] = onnxruntime_child().call(
                    _suggest_in_child, model_for_child(model), *arguments, cancel=cancel,
                    what="Choosing realistic shapes (onnxruntime)")
            else:
                cache[cache_key] = _suggest(model, *arguments, cancel)
        return cache[cache_key]


def _suggest_in_child(model: tuple, profiles, sample_shapes, probe: bool, budget_seconds: float,
                      seed: int) -> ShapeSuggestion:
    """The probe of a large model, in a child: onnxruntime's copy of the weights (and a native crash) stay there."""
    return _suggest(model_in_child(*model), profiles, sample_shapes, probe, budget_seconds, seed, None)


def probed_suggestion(model: LoadedModel, seed: int = 0) -> ShapeSuggestion | None:
    """The default probed suggestion of ``model`` when one was made already (nothing is run here)."""
    return current_runtime().shape_cache(model).suggestions.get((_profiles_key(None), repr([]), True, seed))


def known_shapes(model: LoadedModel) -> ShapeSuggestion:
    """The probed suggestion when one was made for ``model`` already, else the graph-only one (no run):
    for callers on the GUI thread, such as a fix dialog's pre-filled shape."""
    return probed_suggestion(model) or suggest_shapes(model, probe=False)


def prefetch_shapes(model: LoadedModel) -> threading.Thread:
    """Start the probe in a thread (onnxruntime releases the GIL), e.g. while TensorRT's parser analyses
    the model; a later ``suggest_shapes(model)`` gets its answer. Errors surface in that later call."""
    def work() -> None:
        try:
            suggest_shapes(model)
        except Exception:  # noqa: BLE001 - nothing is cached then: the caller's own suggest_shapes() raises it
            pass

    thread = threading.Thread(target=work, name="shape-probe", daemon=True)
    thread.start()
    return thread


def _suggest(model: LoadedModel, profiles, sample_shapes, probe: bool, budget_seconds: float, seed: int,
             cancel: CancelToken | None) -> ShapeSuggestion:
    started = time.perf_counter()
    inputs = model.summary().inputs
    analysis = _analyse_dims(model)
    dims = analysis.dims
    suggestion = ShapeSuggestion(inputs, dims, switch_values(model) if dims or inputs else {}, analysis.states,
                                 relations=analysis.relations)
    # 1: the user's profile, then sample data.
    usable = [p for p in profiles or [] if p.shapes]
    if usable:
        _from_profile(dims, usable[0], ShapeSource.PROFILE, "your optimization profile")
    if sample_shapes:
        _from_profile([d for d in dims if not d.resolved], profile_from_samples(inputs, sample_shapes),
                      ShapeSource.SAMPLES, "the shapes of the sample data")
    # 2: evidence; 3: workloads of a decoder with KV cache; 4: batch convention.
    for dim in dims:
        fact = analysis.facts.get(dim.label)
        if dim.resolved or fact is None:
            continue
        dim.min = dim.opt = dim.max = fact.value
        dim.source, dim.reason = fact.source, fact.reason
    if not usable:
        _add_workloads(model, suggestion, analysis)
    for dim in dims:
        if dim.resolved:
            continue
        if dim.kind is DimKind.BATCH:
            dim.min = dim.opt = dim.max = 1
            dim.source = ShapeSource.CONVENTION
            dim.reason = f"batch-like ({dim.reason}); set a larger max in the Profiles panel to serve batches"
        else:
            dim.opt = dim.min = dim.max = dim.candidates[0]  # before the probe: the most likely value
    open_dims = [d for d in dims if not d.resolved]
    if probe and (open_dims or suggestion.workloads):
        probe_dims(model, suggestion, open_dims, seed, started + budget_seconds, cancel)
        if suggestion.workloads:
            _check_workloads(model, suggestion, seed, cancel)
    elif open_dims:
        for dim in open_dims:
            dim.reason = f"typical {dim.kind.value} size ({dim.reason}){stride_text(dim)}; not yet checked by a run"
            dim.source = ShapeSource.CONVENTION
        suggestion.note = "Shapes not checked by an onnxruntime run yet."
        suggestion.unchecked = True
    suggestion.seconds = time.perf_counter() - started
    return suggestion


def _add_workloads(model: LoadedModel, suggestion: ShapeSuggestion, analysis: _Analysis) -> None:
    """A decoder with KV cache: prefill and decode profiles; its sequence, past and mask variables take the range
    covering both (what one profile would need) and are not probed as free dims."""
    cache = find_kv_cache(suggestion.inputs, suggestion.dims, set(suggestion.relations))
    if cache is None:
        return
    meanings = input_meanings(model)
    positions = next(filter(None, map(_position_bound, meanings.values())), None)
    context = context_length(analysis.hints, positions)
    decode_only = "an Optimum decoder_with_past model runs the decode steps only (decoder_model.onnx runs the " \
        "prompt)" if model.path is not None and WITH_PAST_FILE.search(model.path.name) else ""
    suggestion.workloads = decoder_workloads(cache, context, decode_only)
    # A decoder with KV cache that has a bool switch is a merged decoder (Optimum's use_cache_branch): the switch is
    # off for the prompt, on once the cache holds tokens.
    for tensor in suggestion.inputs:
        if tensor.dtype == "bool" and tensor.name in suggestion.values:  # a switch (``switch_values``)
            for workload in suggestion.workloads:
                workload.values[tensor.name] = workload.name != "prefill"
            representative = suggestion.workloads[-1]
            suggestion.values[tensor.name] = InputValue(
                tensor.name, np.full(suggestion.values[tensor.name].value.shape, representative.values[tensor.name]),
                f"switch input; {representative.values[tensor.name]} in the {representative.name} step (the cache "
                f"branch runs once the cache holds tokens; the prompt step runs it off)")
    for dim in [cache.sequence, cache.past] + ([cache.mask] if cache.mask else []):
        ranges = [w.ranges[dim.label] for w in suggestion.workloads]
        dim.min, dim.opt, dim.max = min(r[0] for r in ranges), ranges[-1][1], max(r[2] for r in ranges)
        dim.source = ShapeSource.WORKLOAD
        dim.reason = f"{dim.reason}; per workload: " + "; ".join(
            f"{w.name} {w.ranges[dim.label][0]}…{w.ranges[dim.label][2]}" for w in suggestion.workloads) + \
            f" ({context.reason})"


def _check_workloads(model: LoadedModel, suggestion: ShapeSuggestion, seed: int, cancel: CancelToken | None) -> None:
    """Every workload's opt and max shapes run under onnxruntime (memory-checked first), or the note says where
    not: a profile nobody ran is not presented as checked."""
    values = {n: v.value for n, v in suggestion.values.items()}
    prober = Prober(model, values, seed, float("inf"), cancel)
    failed = []
    try:
        for workload in suggestion.workloads:
            for which in ("opt", "max"):
                chosen = suggestion.variable_values(which, workload)
                run = prober.run(point(suggestion, chosen))
                if not run.ok:
                    failed.append(f"{workload.name} at {which} {failure_text(run, prober)}: {run.error[:160]}")
    finally:
        suggestion.probes.extend(prober.runs)
        prober.close()
    if failed:
        suggestion.note = "; ".join(filter(None, [suggestion.note, "workload points that do not run under "
                                                  "onnxruntime: " + "; ".join(failed)]))


def _profiles_key(profiles) -> str:
    return repr([p.to_dict() for p in profiles or []])



def workload_points(model: LoadedModel) -> list[tuple[str, dict[str, Shape], dict[str, bool]]]:
    """(workload, opt shapes, switch values) of every workload other than the representative one ``shapes()``
    gives (a decoder's prefill beside its decode step): comparisons and parity run these too, so a difference
    that shows only in the prompt step cannot pass."""
    suggestion = suggest_shapes(model)
    return [(w.name, suggestion.shapes("opt", w), dict(w.values)) for w in suggestion.workloads[:-1]]


def suggested_feeds(model: LoadedModel, seed: int = 0, shapes: dict[str, Shape] | None = None,
                    suggestion: ShapeSuggestion | None = None) -> dict[str, np.ndarray]:
    """Seeded random inputs at realistic shapes, switch inputs at the model's own values."""
    suggestion = suggestion or suggest_shapes(model)
    feeds = random_feeds(model, seed, shapes={**suggestion.shapes(), **(shapes or {})})
    feeds.update({k: v.value for k, v in suggestion.values.items() if k in feeds})
    return feeds
