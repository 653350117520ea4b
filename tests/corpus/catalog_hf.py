"""Catalogue entries of the Hugging Face exports written by ``make_corpus_hf.py`` (pure data; see catalog.py
for the fields). The facts follow from the configs in ``make_corpus_hf.py`` and the side files beside each
model, not from running the tools under test.
"""

from __future__ import annotations

_GPT2_PAST = ["batch_size", 4, "past_sequence_length", 16]
_WHISPER_SELF = ["batch_size", 4, "past_decoder_sequence_length", 16]
_WHISPER_CROSS = ["batch_size", 4, "encoder_sequence_length", 16]


def _kv(prefix: str, layers: int, kinds: tuple[str, ...], shape) -> dict:
    return {f"{prefix}.{layer}.{kind}": shape for layer in range(layers) for kind in kinds}


def _whisper_kv(past: int, encoder: int = 1500) -> dict:
    return {**_kv("past_key_values", 2, ("decoder.key", "decoder.value"), [1, 4, past, 16]),
            **_kv("past_key_values", 2, ("encoder.key", "encoder.value"), [1, 4, encoder, 16])}


HF_CATALOG: dict[str, dict] = {
    "gpt2_kv_optimum/model.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "GPT-2 (2 layers, 4 heads, width 64, vocab 1000, 256 positions), Optimum "
                       "text-generation-with-past: KV-cache inputs, the mask's dim is the expression "
                       "'past_sequence_length + sequence_length'; TensorRT-RTX 1.7 parses it and builds prefill and "
                       "decode as two profiles of one engine",
        "side_files": ["config.json", "generation_config.json"],
        "inputs": {"input_ids": ["batch_size", "sequence_length"],
                   **_kv("past_key_values", 2, ("key", "value"), _GPT2_PAST),
                   "attention_mask": ["batch_size", "past_sequence_length + sequence_length"],
                   "position_ids": ["batch_size", "sequence_length"]},
        "realistic": {"input_ids": [1, 1], **_kv("past_key_values", 2, ("key", "value"), [1, 4, 127, 16]),
                      "attention_mask": [1, 128], "position_ids": [1, 1]},
        "roles": {"input_ids": "token_ids", "attention_mask": "attention_mask", "position_ids": "position_ids",
                  **{name: "kv_cache" for name in _kv("past_key_values", 2, ("key", "value"), None)}},
        "value_domains": {"input_ids": [0, 999], "position_ids": [0, 255], "attention_mask": [1, 1]},
        "workloads": {
            "prefill": {"input_ids": [1, 128], **_kv("past_key_values", 2, ("key", "value"), [1, 4, 0, 16]),
                        "attention_mask": [1, 128], "position_ids": [1, 128]},
            "decode": {"input_ids": [1, 1], **_kv("past_key_values", 2, ("key", "value"), [1, 4, 127, 16]),
                       "attention_mask": [1, 128], "position_ids": [1, 1]},
        },
        "facts": {"batch_like": {"input_ids": 0},
                  "relations": ["attention_mask[1] = past_key_values.N.*[2] + input_ids[1]"],
                  "context": 256,  # config.json: n_positions
                  "fails_outside_domain": [("input_ids", 1000, "Gather")]},
    },
    "bert_optimum/model.onnx": {
        "family": "encoder",
        "exporter": "optimum",
        "description": "BERT (2 layers, width 64, vocab 1000, 128 positions, type_vocab_size 2), Optimum "
                       "text-classification: token_type_ids index a 2-row table; TensorRT-RTX 1.7 parses and builds it",
        "side_files": ["config.json"],
        "inputs": {"input_ids": ["batch_size", "sequence_length"], "attention_mask": ["batch_size", "sequence_length"],
                   "token_type_ids": ["batch_size", "sequence_length"]},
        "realistic": {"input_ids": [1, 128], "attention_mask": [1, 128], "token_type_ids": [1, 128]},
        "roles": {"input_ids": "token_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"},
        "value_domains": {"input_ids": [0, 999], "token_type_ids": [0, 1], "attention_mask": [1, 1]},
        "workloads": {
            "short": {"input_ids": [1, 16], "attention_mask": [1, 16], "token_type_ids": [1, 16]},
            "long": {"input_ids": [1, 128], "attention_mask": [1, 128], "token_type_ids": [1, 128]},
        },
        "facts": {"batch_like": {"input_ids": 0},
                  "max_sequence": 128,  # config.json: max_position_embeddings
                  "fails_outside_domain": [("token_type_ids", 2, "token_type_embeddings/Gather"),
                                           ("token_type_ids", 4, "token_type_embeddings/Gather")]},
    },
    "whisper_optimum/encoder_model.onnx": {
        "family": "speech-encoder",
        "exporter": "optimum",
        "description": "Whisper encoder (2 layers, width 64, 80 mel bins): 3000 frames → 1500 positions after its "
                       "stride-2 conv; Optimum exports the frame count static",
        "side_files": ["config.json", "generation_config.json", "preprocessor_config.json"],
        "inputs": {"input_features": ["batch_size", 80, 3000]},
        "realistic": {"input_features": [1, 80, 3000]},
        "roles": {"input_features": "audio_features"},
        "workloads": {"deploy": {"input_features": [1, 80, 3000]}},
        "facts": {"batch_like": {"input_features": 0}},
    },
    "whisper_optimum/decoder_with_past_model.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "Whisper decoder with past (Optimum): runs the decode steps only (decoder_model.onnx runs the "
                       "prompt); cross-attention caches hold the encoder's 1500 states (config.json "
                       "max_source_positions); 448 decoder positions",
        "side_files": ["config.json", "generation_config.json", "preprocessor_config.json"],
        "inputs": {"input_ids": ["batch_size", "decoder_sequence_length"],
                   **_kv("past_key_values", 2, ("decoder.key", "decoder.value"), _WHISPER_SELF),
                   **_kv("past_key_values", 2, ("encoder.key", "encoder.value"), _WHISPER_CROSS)},
        "realistic": {"input_ids": [1, 1], **_whisper_kv(4)},
        "roles": {"input_ids": "token_ids",
                  **{name: "kv_cache" for name in _whisper_kv(1)}},
        "value_domains": {"input_ids": [0, 999]},
        "workloads": {"decode": {"input_ids": [1, 1], **_whisper_kv(127)}},
        "facts": {"batch_like": {"input_ids": 0}, "encoder_length": 1500, "context": 448},
    },
    "whisper_optimum/decoder_model_merged.onnx": {
        "family": "decoder-kv-cache",
        "exporter": "optimum",
        "description": "Whisper merged decoder (Optimum): one If on use_cache_branch (False: the prompt, True: the "
                       "decode steps); TensorRT-RTX 1.7 builds the prefill and the decode profile each alone, but "
                       "not both in one engine (Myelin 'producer does not dominate the use'); one covering profile "
                       "builds",
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
                  "bool_switch": {"input": "use_cache_branch",
                                  "branches": {"then_branch": True, "else_branch": False}}},
    },
}
