"""Catalogue entries of the Hugging Face exports written by ``make_corpus_hf.py`` (pure data; see catalog.py
for the fields). The facts follow from the configs in ``make_corpus_hf.py`` and the side files beside each
model, not from running the tools under test.
"""

from __future__ import annotations

_GPT2_PAST = ["batch_size", 4, "past_sequence_length", 16]
_LLAMA_PAST = ["batch_size", 2, "past_sequence_length", 16]  # grouped-query attention: 2 KV heads for 4 query heads
_WHISPER_SELF = ["batch_size", 4, "past_decoder_sequence_length", 16]
_WHISPER_CROSS = ["batch_size", 4, "encoder_sequence_length", 16]


def _kv(prefix: str, layers: int, kinds: tuple[str, ...], shape) -> dict:
    return {f"{prefix}.{layer}.{kind}": shape for layer in range(layers) for kind in kinds}


def _decoder_point(kv_heads: int, seq: int, past: int, mask: int | None = None, positions: int | None = None) -> dict:
    """Shapes of every input of an Optimum decoder with past at batch 1; the mask covers past + seq unless given."""
    return {"input_ids": [1, seq], **_kv("past_key_values", 2, ("key", "value"), [1, kv_heads, past, 16]),
            "attention_mask": [1, past + seq if mask is None else mask],
            "position_ids": [1, seq if positions is None else positions]}


def _decoder_relation_breaks(kv_heads: int, mask_message: str, position_message: str) -> list:
    """fails_at cases that break each relation a decoder with past enforces: a mask shorter than past + seq (its
    Gather of the last mask column reads past the end) and position_ids longer than input_ids (a broadcast)."""
    return [(_decoder_point(kv_heads, 4, 10, mask=12), {}, mask_message),
            (_decoder_point(kv_heads, 4, 10, positions=5), {}, position_message)]


def _token_inputs(seq: int, names=("input_ids", "attention_mask", "token_type_ids")) -> dict:
    return {name: [1, seq] for name in names}


def _whisper_kv(past: int, encoder: int = 1500) -> dict:
    return {**_kv("past_key_values", 2, ("decoder.key", "decoder.value"), [1, 4, past, 16]),
            **_kv("past_key_values", 2, ("encoder.key", "encoder.value"), [1, 4, encoder, 16])}


HF_CATALOG: dict[str, dict] = {
    "gpt2_kv_optimum/model.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "GPT-2 (2 layers, 4 heads, width 64, vocab 1000, 256 positions), Optimum "
                       "text-generation-with-past (Optimum 2.1 writes one model.onnx, no merged decoder): KV-cache "
                       "inputs, the mask's dim is the expression 'past_sequence_length + sequence_length'; "
                       "position_ids index the 256-row table wpe; TensorRT-RTX 1.7 parses it and builds prefill "
                       "and decode as two profiles of one engine",
        "side_files": ["config.json", "generation_config.json"],
        "inputs": {"input_ids": ["batch_size", "sequence_length"],
                   **_kv("past_key_values", 2, ("key", "value"), _GPT2_PAST),
                   "attention_mask": ["batch_size", "past_sequence_length + sequence_length"],
                   "position_ids": ["batch_size", "sequence_length"]},
        "realistic": _decoder_point(4, 1, 127),
        "roles": {"input_ids": "token_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
                  **{name: "kv_cache" for name in _kv("past_key_values", 2, ("key", "value"), None)}},
        "value_domains": {"input_ids": [0, 999], "position_ids": [0, 255], "attention_mask": [1, 1]},
        "workloads": {"prefill": _decoder_point(4, 128, 0), "decode": _decoder_point(4, 1, 127)},
        "facts": {"batch_like": {"input_ids": 0},
                  "relations": ["attention_mask[1] = past_key_values.N.*[2] + input_ids[1]",
                                "position_ids[1] = input_ids[1]"],
                  "context": 256,  # config.json: n_positions
                  "trained_size": {"attention_mask": {1: 256}},  # the 256-row position table: past + seq <= 256
                  "fails_at": _decoder_relation_breaks(4, "/transformer/Gather", "broadcast"),
                  "fails_outside_domain": [("input_ids", 1000, "wte/Gather"), ("position_ids", 256, "wpe/Gather")]},
    },
    "llama_kv_optimum/model.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "Llama (2 layers, width 64, 4 query heads, 2 KV heads (GQA), vocab 1000, "
                       "max_position_embeddings 256), Optimum text-generation-with-past (one model.onnx): the KV "
                       "cache has 2 heads, not 4; rotary positions are computed from position_ids (no table), so "
                       "positions past 255 still run: the 256 is the config's context, not a graph limit; "
                       "TensorRT-RTX 1.7 parses it and builds one profile over prefill and decode",
        "side_files": ["config.json", "generation_config.json"],
        "inputs": {"input_ids": ["batch_size", "sequence_length"],
                   "attention_mask": ["batch_size", "past_sequence_length + sequence_length"],
                   "position_ids": ["batch_size", "sequence_length"],
                   **_kv("past_key_values", 2, ("key", "value"), _LLAMA_PAST)},
        "realistic": _decoder_point(2, 1, 127),
        "roles": {"input_ids": "token_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
                  **{name: "kv_cache" for name in _kv("past_key_values", 2, ("key", "value"), None)}},
        "value_domains": {"input_ids": [0, 999], "position_ids": [0, 255], "attention_mask": [1, 1]},
        "workloads": {"prefill": _decoder_point(2, 128, 0), "decode": _decoder_point(2, 1, 127)},
        "facts": {"batch_like": {"input_ids": 0},
                  "relations": ["attention_mask[1] = past_key_values.N.*[2] + input_ids[1]",
                                "position_ids[1] = input_ids[1]"],
                  "context": 256,  # config.json: max_position_embeddings
                  "trained_size": {"attention_mask": {1: 256}},
                  "fails_at": _decoder_relation_breaks(2, "/model/Gather", "broadcast"),
                  "fails_outside_domain": [("input_ids", 1000, "embed_tokens/Gather")]},
    },
    "bert_optimum/model.onnx": {
        "family": "encoder",
        "exporter": "optimum",
        "description": "BERT (2 layers, width 64, vocab 1000, 128 positions, type_vocab_size 2), Optimum "
                       "text-classification: token_type_ids index a 2-row table; the 128-row position table is "
                       "added to the embeddings, so sequences past 128 fail; TensorRT-RTX 1.7 parses and builds it",
        "side_files": ["config.json"],
        "inputs": {"input_ids": ["batch_size", "sequence_length"], "attention_mask": ["batch_size", "sequence_length"],
                   "token_type_ids": ["batch_size", "sequence_length"]},
        "realistic": _token_inputs(128),
        "roles": {"input_ids": "token_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"},
        "value_domains": {"input_ids": [0, 999], "token_type_ids": [0, 1], "attention_mask": [1, 1]},
        "workloads": {"short": _token_inputs(16), "long": _token_inputs(128)},
        "facts": {"batch_like": {"input_ids": 0},
                  "max_sequence": 128,  # config.json: max_position_embeddings
                  "trained_size": {"input_ids": {1: 128}},
                  "fails_at": [(_token_inputs(129), {}, "/bert/embeddings/Add_1")],
                  "fails_outside_domain": [("token_type_ids", 2, "token_type_embeddings/Gather"),
                                           ("token_type_ids", 4, "token_type_embeddings/Gather")]},
    },
    "bert_classifier_ts.onnx": {
        "family": "encoder",
        "exporter": "torchscript",
        "description": "BertForSequenceClassification (2 layers, width 64, vocab 1000, 512 positions, "
                       "type_vocab_size 2, 2 labels) exported as a user writes it: torch.onnx.export (TorchScript, "
                       "opset 17) with dynamic axes batch / sequence on the three inputs, no side files; the 512-row "
                       "position table makes sequences past 512 fail; TensorRT-RTX 1.7 parses it and builds seq 1..512",
        "inputs": {"input_ids": ["batch", "sequence"], "attention_mask": ["batch", "sequence"],
                   "token_type_ids": ["batch", "sequence"]},
        "realistic": _token_inputs(128),
        "roles": {"input_ids": "token_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"},
        "value_domains": {"input_ids": [0, 999], "token_type_ids": [0, 1], "attention_mask": [1, 1]},
        "workloads": {"short": _token_inputs(16), "long": _token_inputs(128)},
        "facts": {"batch_like": {"input_ids": 0},
                  "trained_size": {"input_ids": {1: 512}},  # BERT's max_position_embeddings
                  "fails_at": [(_token_inputs(513), {}, "/bert/embeddings/Add_1")],
                  "fails_outside_domain": [("token_type_ids", 2, "token_type_embeddings/Gather"),
                                           ("token_type_ids", 4, "token_type_embeddings/Gather"),
                                           ("input_ids", 1000, "word_embeddings/Gather")]},
    },
    "whisper_optimum/encoder_model.onnx": {
        "family": "speech-encoder",
        "exporter": "optimum",
        "description": "Whisper encoder (2 layers, width 64, 80 mel bins): 3000 frames → 1500 positions after its "
                       "stride-2 conv; Optimum exports the frame count static (onnxruntime refuses 2000 frames "
                       "before running); TensorRT-RTX 1.7 parses it",
        "side_files": ["config.json", "generation_config.json", "preprocessor_config.json"],
        "inputs": {"input_features": ["batch_size", 80, 3000]},
        "realistic": {"input_features": [1, 80, 3000]},
        "roles": {"input_features": "audio_features"},
        "workloads": {"deploy": {"input_features": [1, 80, 3000]}},
        "facts": {"batch_like": {"input_features": 0},
                  "trained_size": {"input_features": {2: 3000}},  # 2 × max_source_positions (1500)
                  "fails_at": [({"input_features": [1, 80, 2000]}, {}, "Got invalid dimensions")]},
    },
    "whisper_optimum/decoder_with_past_model.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "Whisper decoder with past (Optimum): runs the decode steps only (decoder_model.onnx runs the "
                       "prompt); cross-attention caches hold the encoder's 1500 states (config.json "
                       "max_source_positions; any other length runs too); 448 decoder positions: the position of the "
                       "new token (= past) indexes the 448-row table, so past 448 fails; TensorRT-RTX 1.7 parses it",
        "side_files": ["config.json", "generation_config.json", "preprocessor_config.json"],
        "inputs": {"input_ids": ["batch_size", "decoder_sequence_length"],
                   **_kv("past_key_values", 2, ("decoder.key", "decoder.value"), _WHISPER_SELF),
                   **_kv("past_key_values", 2, ("encoder.key", "encoder.value"), _WHISPER_CROSS)},
        "realistic": {"input_ids": [1, 1], **_whisper_kv(4)},
        "roles": {"input_ids": "token_ids",
                  **{name: "kv_cache" for name in _whisper_kv(1)}},
        "value_domains": {"input_ids": [0, 999]},
        "workloads": {"decode": {"input_ids": [1, 1], **_whisper_kv(127)}},
        "facts": {"batch_like": {"input_ids": 0}, "encoder_length": 1500, "context": 448,
                  "trained_size": _kv("past_key_values", 2, ("encoder.key", "encoder.value"), {2: 1500}),
                  "fails_at": [({"input_ids": [1, 1], **_whisper_kv(448)}, {}, "embed_positions/Gather")]},
    },
    "whisper_optimum/decoder_model_merged.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "Whisper merged decoder (Optimum): one If on use_cache_branch (False: the prompt, True: the "
                       "decode steps); TensorRT-RTX 1.7 builds the prefill and the decode profile each alone, but "
                       "not both in one engine (Myelin 'producer does not dominate the use'); one covering profile "
                       "builds; past 448 fails in the decode branch (448-row position table)",
        "side_files": ["config.json", "generation_config.json", "preprocessor_config.json"],
        "inputs": {"input_ids": ["batch_size", "decoder_sequence_length"],
                   "encoder_hidden_states": ["batch_size", "encoder_sequence_length", 64],
                   **_kv("past_key_values", 2, ("decoder.key", "decoder.value"), _WHISPER_SELF),
                   **_kv("past_key_values", 2, ("encoder.key", "encoder.value"), _WHISPER_CROSS),
                   "use_cache_branch": [1]},
        "realistic": {"input_ids": [1, 1], "encoder_hidden_states": [1, 1500, 64], **_whisper_kv(4),
                      "use_cache_branch": [1]},
        "values": {"use_cache_branch": True},
        "roles": {"input_ids": "token_ids", "encoder_hidden_states": "encoder_states", "use_cache_branch": "switch",
                  **{name: "kv_cache" for name in _whisper_kv(1)}},
        "value_domains": {"input_ids": [0, 999]},
        "workloads": {
            "prefill": {"input_ids": [1, 4], "encoder_hidden_states": [1, 1500, 64], **_whisper_kv(0),
                        "use_cache_branch": [1]},
            "decode": {"input_ids": [1, 1], "encoder_hidden_states": [1, 1500, 64], **_whisper_kv(127),
                       "use_cache_branch": [1]},
        },
        "workload_values": {"prefill": {"use_cache_branch": False}, "decode": {"use_cache_branch": True}},
        "facts": {"batch_like": {"input_ids": 0}, "encoder_length": 1500, "context": 448,
                  "trained_size": {"encoder_hidden_states": {1: 1500},
                                   **_kv("past_key_values", 2, ("encoder.key", "encoder.value"), {2: 1500})},
                  "fails_at": [({"input_ids": [1, 1], "encoder_hidden_states": [1, 1500, 64], **_whisper_kv(448),
                                 "use_cache_branch": [1]}, {"use_cache_branch": True}, "embed_positions/Gather")],
                  "bool_switch": {"input": "use_cache_branch",
                                  "branches": {"then_branch": True, "else_branch": False}}},
    },
    "clip_text_optimum/model.onnx": {
        "family": "encoder",
        "exporter": "optimum",
        "description": "CLIP text encoder alone (CLIPTextModel: 2 layers, width 64, vocab 1000, 77 positions), "
                       "Optimum feature-extraction with Optimum's own CLIP text config passed as custom_onnx_configs "
                       "(Optimum registers it for diffusers pipelines only); the 77-row position table is added to "
                       "the token embeddings: 77 tokens run, 78 and more fail in that Add; TensorRT-RTX 1.7 parses it "
                       "and builds seq 1..77 (and, unchecked by its builder, 1..128)",
        "side_files": ["config.json"],
        "inputs": {"input_ids": ["batch_size", "sequence_length"]},
        "realistic": {"input_ids": [1, 77]},
        "roles": {"input_ids": "token_ids"},
        "value_domains": {"input_ids": [0, 999]},
        "workloads": {"short": {"input_ids": [1, 16]}, "long": {"input_ids": [1, 77]}},
        "facts": {"batch_like": {"input_ids": 0},
                  "trained_size": {"input_ids": {1: 77}},  # config.json: max_position_embeddings
                  "fails_at": [({"input_ids": [1, 78]}, {}, "/text_model/embeddings/Add"),
                               ({"input_ids": [1, 128]}, {}, "broadcast an axis by a dimension other than 1. 77 by")],
                  "fails_outside_domain": [("input_ids", 1000, "token_embedding/Gather")]},
    },
}
