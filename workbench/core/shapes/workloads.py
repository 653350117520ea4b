"""Workload profiles for decoders with a KV cache: what people deploy, not one range over everything.

A decoder with KV cache runs two kinds of step: **prefill** (the prompt: sequence 1…max prompt, empty cache)
and **decode** (one new token: sequence 1, cache 0…max context − 1). One TensorRT profile stretched over
both (seq 16–128, past 16–128) excludes the decode step and the first step, the work the model exists for.
So the suggestion gets one optimization profile per step; a profile covering both is still available
(``ShapeSuggestion.profile()``) when one profile is asked for.

KV-cache inputs are recognised by the names exporters give them (Optimum's ``past_key_values.N.key``,
``past_key``/``past_value``, ``cache_*``) and their rank-4 layout [batch, heads, past, head_dim];
cross-attention caches (``...encoder.key``) hold the encoder's length, not a past. The longest context
comes from the exporter's ``config.json``, else a stated default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.core.model.loading import TensorInfo
from workbench.core.shapes.dims import DimSuggestion, Use, Workload
from workbench.core.shapes.exporter_hints import ExporterHints, Hint

_KV_NAME = re.compile(r"(past_key_values|past_key|past_value|^past[._]|present|(^|[._])cache)", re.IGNORECASE)
_CROSS_NAME = re.compile(r"(encoder|cross)", re.IGNORECASE)
_TOKEN_NAME = re.compile(r"(input_ids|inputs_embeds|position_ids|tokens?$)", re.IGNORECASE)
_MASK_NAME = re.compile(r"attention_mask|mask", re.IGNORECASE)
WITH_PAST_FILE = re.compile(r"with_past", re.IGNORECASE)  # Optimum's decoder_with_past_model.onnx
DEFAULT_CONTEXT = 2048  # when no config states the context: common for small LLMs; shown as the reason
MAX_CONTEXT = 4096  # a longer configured context is capped (KV memory grows with it); raise it in the panel
PREFILL_OPT = 128


@dataclass
class KvCache:
    """The KV-cache layout of a decoder: which variables are the new tokens and the past (the encoder's length,
    read by cross-attention caches, comes from the config as evidence, not from a workload)."""

    past: DimSuggestion
    sequence: DimSuggestion
    mask: DimSuggestion | None  # an attention mask's own length variable (when not an expression of the others)


def find_kv_cache(inputs: list[TensorInfo], dims: list[DimSuggestion], related: set[Use]) -> KvCache | None:
    by_use = {use: dim for dim in dims for use in dim.uses}
    past = None
    for tensor in inputs:
        if tensor.shape is None or len(tensor.shape) != 4 or not _KV_NAME.search(tensor.name) or \
                not tensor.dtype.startswith(("float", "bfloat")):
            continue
        axis = next((a for a, name in enumerate(tensor.shape) if isinstance(name, str)
                     and re.search(r"past|seq|len|cache", name, re.IGNORECASE)), 2)
        dim = by_use.get((tensor.name, axis))
        if dim is None:
            continue
        if not _CROSS_NAME.search(tensor.name):  # a cross-attention cache holds the encoder's length, not a past
            past = past or dim
    if past is None:
        return None
    sequence = next((by_use[(t.name, 1)] for t in inputs if t.shape is not None and len(t.shape) in (2, 3)
                     and _TOKEN_NAME.search(t.name) and (t.name, 1) in by_use and by_use[(t.name, 1)] is not past),
                    None)
    if sequence is None:
        return None
    mask = next((by_use[(t.name, 1)] for t in inputs if t.shape is not None and len(t.shape) == 2
                 and _MASK_NAME.search(t.name) and (t.name, 1) in by_use and (t.name, 1) not in related
                 and by_use[(t.name, 1)] not in (past, sequence)), None)
    return KvCache(past, sequence, mask)


def context_length(hints: ExporterHints, positions: Hint | None) -> Hint:
    """The longest context to build for: the config's, else the positions the position ids' table holds, else the
    default; capped at ``MAX_CONTEXT`` (stated)."""
    if hints.context is not None:
        found = hints.context
    elif positions is not None:
        found = positions
    else:
        found = Hint(DEFAULT_CONTEXT, f"no config.json beside the model states the context; {DEFAULT_CONTEXT} "
                                      "assumed (set the max in the Profiles panel)")
    if found.value > MAX_CONTEXT:
        return Hint(MAX_CONTEXT, f"{found.reason}, capped at {MAX_CONTEXT} (raise the max in the Profiles panel)")
    return found


def decoder_workloads(cache: KvCache, context: Hint, decode_only: str = "") -> list[Workload]:
    """Prefill (sequence 1…context, past 0) and decode (sequence 1, past 0…context − 1): two profiles.
    An independent mask length is past + sequence in each. ``decode_only`` (why) keeps the decode step alone:
    Optimum's ``decoder_with_past_model.onnx`` only ever runs it (``decoder_model.onnx`` runs the prompt)."""
    longest = context.value
    prompt = min(PREFILL_OPT, longest)
    prefill = {cache.sequence.label: (1, prompt, longest), cache.past.label: (0, 0, 0)}
    decode = {cache.sequence.label: (1, 1, 1), cache.past.label: (0, max(longest // 2 - 1, 0), longest - 1)}
    if cache.mask is not None:
        prefill[cache.mask.label] = (1, prompt, longest)
        decode[cache.mask.label] = (1, max(longest // 2, 1), longest)
    steps = [Workload("decode", f"one token at a time: {cache.past.label} "
                                f"{1 if decode_only else 0}…{longest - 1} ({context.reason})", decode)]
    if decode_only:
        decode[cache.past.label] = (1, decode[cache.past.label][1], longest - 1)
        if cache.mask is not None:
            decode[cache.mask.label] = (2, decode[cache.mask.label][1], longest)
        steps[0].reason += f"; {decode_only}"
        return steps
    return [Workload("prefill", f"the prompt: {cache.sequence.label} 1…{longest}, empty cache ({context.reason})",
                     prefill)] + steps
