"""Generate the corpus's Hugging Face exports (tests/corpus/*_optimum/): sequence models as Optimum writes them.

Needs torch, transformers and optimum-onnx (not dependencies of the app or the tests, which only read the
committed files). Install into a separate virtual environment:

    pip install torch transformers optimum-onnx onnx onnxruntime

and run from the repository root:

    python tests/corpus/make_corpus_hf.py           # every model
    python tests/corpus/make_corpus_hf.py whisper   # only the folders whose name contains a word

Each model is built from a config in code with random weights seeded by ``torch.manual_seed`` (no download:
no hub, no tokenizer files), saved with ``save_pretrained`` into a temporary folder and exported by Optimum's
``main_export`` — what ``optimum-cli export onnx`` runs. Widths and layer counts are tiny; the architectural
facts the shape service must find are kept real: vocabulary and token-type table sizes, position-table lengths
(GPT-2's 256 positions, Whisper's 1500 encoder positions from 3000 mel frames and 448 decoder positions), the
input names and the dim names Optimum writes (``past_sequence_length + sequence_length``). The exporter's
side files (``config.json``, ``generation_config.json``, ``preprocessor_config.json``) are kept beside the
models; each ``.onnx`` gets ``finish()`` (lowest IR version for its opsets, no doc strings).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import onnx
import torch
from optimum.exporters.onnx import main_export
from optimum.exporters.onnx.model_configs import CLIPTextOnnxConfig
from transformers import (BertConfig, BertForSequenceClassification, CLIPTextConfig, CLIPTextModel, GPT2Config,
                          GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, WhisperConfig, WhisperFeatureExtractor,
                          WhisperForConditionalGeneration)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.corpus.make_corpus import (CORPUS, MAX_FILE_BYTES, SEED, export_ts, finish, run_makers,  # noqa: E402
                                      save)

SIDE_FILES = ("config.json", "generation_config.json", "preprocessor_config.json")
VOCAB = 1000


def export_folder(model, folder: str, task: str, keep: tuple[str, ...], extra_save=None, **export_options) -> None:
    """``save_pretrained`` + Optimum's export into ``tests/corpus/<folder>``: the ``keep`` models and side files.
    ``export_options`` go to ``main_export`` as they are (``custom_onnx_configs``)."""
    target = CORPUS / folder
    with tempfile.TemporaryDirectory() as work:
        source, exported = Path(work) / "source", Path(work) / "onnx"
        model.save_pretrained(source)
        if extra_save is not None:
            extra_save.save_pretrained(source)
        main_export(str(source), output=str(exported), task=task, opset=17, **export_options)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in keep:
            proto = finish(onnx.load(str(exported / name)))
            onnx.checker.check_model(proto, full_check=True)
            onnx.save(proto, str(target / name))
            size = (target / name).stat().st_size
            assert size <= MAX_FILE_BYTES, f"{folder}/{name} is {size} bytes: shrink the config"
            print(f"wrote {folder}/{name}: {size / 1e6:.2f} MB")
        for name in SIDE_FILES:
            if (exported / name).exists():
                shutil.copy(exported / name, target / name)


def make_gpt2() -> None:
    """A decoder with KV cache: input_ids / attention_mask [batch, past + seq] / position_ids and
    past_key_values.N.key|value [batch, 4, past_sequence_length, 16]; 256 positions."""
    torch.manual_seed(SEED)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=64, vocab_size=VOCAB, n_positions=256)
    export_folder(GPT2LMHeadModel(config).eval(), "gpt2_kv_optimum", "text-generation-with-past", ("model.onnx",))


def tiny_bert(max_positions: int) -> BertForSequenceClassification:
    """BERT with a 2-row token-type table, a two-label classification head and ``max_positions`` positions."""
    torch.manual_seed(SEED)
    config = BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=max_positions, type_vocab_size=2, num_labels=2,
                        initializer_range=0.2)  # 0.02 leaves attention uniform: a planted change would not show
    return BertForSequenceClassification(config).eval()


def make_bert() -> None:
    """A BERT-style encoder with token_type_ids (a 2-row token-type table) and 128 positions."""
    export_folder(tiny_bert(128), "bert_optimum", "text-classification", ("model.onnx",))


def make_bert_ts() -> None:
    """The same classifier with BERT's 512 positions, exported as a user writes it: ``torch.onnx.export``
    (TorchScript) with dynamic batch and sequence axes on the three inputs and the logits."""
    model = tiny_bert(512)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    args = (torch.randint(0, VOCAB, (1, 16)), torch.ones(1, 16, dtype=torch.int64),
            torch.zeros(1, 16, dtype=torch.int64))
    dynamic = {name: {0: "batch", 1: "sequence"} for name in names}
    save(export_ts(model, args, names, ["logits"], {**dynamic, "logits": {0: "batch"}}), "bert_classifier_ts.onnx")


def make_llama() -> None:
    """A decoder with grouped-query attention (4 query heads, 2 KV heads: past_key_values.N.* [batch, 2, past, 16])
    and rotary positions computed from position_ids (no position table); config: 256 positions."""
    torch.manual_seed(SEED)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    export_folder(LlamaForCausalLM(config).eval(), "llama_kv_optimum", "text-generation-with-past", ("model.onnx",))


def make_clip_text() -> None:
    """CLIP's text encoder alone (as Stable Diffusion's text_encoder): a 77-row position table added to the token
    embeddings, so only sequences of at most 77 tokens run. Optimum registers its CLIP text config for diffusers
    pipelines only; a CLIPTextModel folder is exported with that config given as ``custom_onnx_configs``, as
    Optimum's guide for custom exports shows."""
    torch.manual_seed(SEED)
    config = CLIPTextConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                            num_attention_heads=4, max_position_embeddings=77, projection_dim=64,
                            pad_token_id=1, bos_token_id=0, eos_token_id=2)  # as openai/clip-vit-*: pools at argmax id
    model = CLIPTextModel(config).eval()
    export_folder(model, "clip_text_optimum", "feature-extraction", ("model.onnx",),
                  custom_onnx_configs={"model": CLIPTextOnnxConfig(model.config, task="feature-extraction")})


def make_whisper() -> None:
    """An encoder–decoder speech model: the encoder takes 80 mel bins × 3000 frames (1500 positions after its
    stride-2 conv); the decoder with past and the merged decoder (If on use_cache_branch) read the encoder's
    1500 states in cross-attention; 448 decoder positions."""
    torch.manual_seed(SEED)
    config = WhisperConfig(vocab_size=VOCAB, d_model=64, encoder_layers=2, decoder_layers=2,
                           encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128,
                           decoder_ffn_dim=128, num_mel_bins=80, max_source_positions=1500, max_target_positions=448,
                           decoder_start_token_id=1, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    model = WhisperForConditionalGeneration(config).eval()
    model.generation_config.decoder_start_token_id = 1
    export_folder(model, "whisper_optimum", "automatic-speech-recognition-with-past",
                  ("encoder_model.onnx", "decoder_with_past_model.onnx", "decoder_model_merged.onnx"),
                  extra_save=WhisperFeatureExtractor(feature_size=80))


MAKERS = {"gpt2_kv_optimum": make_gpt2, "llama_kv_optimum": make_llama, "bert_optimum": make_bert,
          "bert_classifier_ts.onnx": make_bert_ts, "whisper_optimum": make_whisper, "clip_text_optimum": make_clip_text}


def main(words: list[str]) -> None:
    run_makers(MAKERS, words)


if __name__ == "__main__":
    main(sys.argv[1:])
