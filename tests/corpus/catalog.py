"""What each corpus model is and what its architecture says about realistic shapes (pure data).

The models are real exports written by ``make_corpus.py`` (``torch.onnx.export``) and
``make_corpus_vision.py`` (Ultralytics, Optimum, ``torch.onnx.export``; its entries live in ``catalog_vision.py``),
which need torch; this file does not. The FACTS below follow from the architecture in ``make_corpus.py`` (strides,
fixed-size layers, baked constants, switch values), not from running the tools under test, so
tests may assert that the workbench finds them.

Per model (key = path relative to this folder):
  family, exporter ("torchscript" | "dynamo" | "optimum" | "ultralytics"), description
  inputs     declared shape of every graph input, as written in the file (dim_param names or ints)
  realistic  a shape per input at which the model runs as deployed (tests run onnxruntime there);
             scalar inputs have shape []
  values     the value to feed scalar (switch) and bool inputs at the realistic shape
  side_files     files the exporter wrote beside the model (config.json, preprocessor_config.json, ...)
  value_domains  {input: [low, high]} inclusive range of valid values of an integer/bool input, from the
                 architecture/config (low == high: a constant); inputs not listed take any value / floats
  workloads  {workload_name: {input: shape}} the points a deployment runs, every input given (a built profile
             set must cover them); scalars have shape [], 0-sized dims are allowed
  roles      {input: role} what the input is by the architecture: image, latent, token_ids, attention_mask,
             position_ids, token_type_ids, kv_cache, encoder_states, audio_features, audio, coordinates,
             point_labels, per_batch_scalar, switch, state, mask, other
  metadata   {key: value} model metadata_props the exporter wrote that matter for shapes (Ultralytics imgsz,
             stride, batch, names, ...)
  facts      what a shape/fix/repair tool should find; keys (each optional):
    fixed         {input: {axis: value}}   a dynamic dim that only works at this value
    multiple_of   {input: {axis: n}}       the total stride: multiples of n always run; most other values
                                           fail in the Concat/Add of upsampled maps (see fails_at), but not
                                           all (sizes that round up to the same pyramid, e.g. 31, or 1
                                           where an Add broadcasts 1-sized maps)
    min           {input: {axis: n}}       runs at n, fails at n - 1 (onnxruntime)
    typical       {input: {axis: value}}   a typical deployment value for a dim that is free
    batch_like    {input: axis}            the batch dimension
    runs_only_at  {input: {axis: value}}   declared dynamic, but an exported constant pins it
    baked_reshape {"node", "shape"}        the Reshape carrying that constant (shape: "batch*8" = computed)
    switch        {"input", "compared_with", "deployed_value"}  an If condition on a scalar input
    state         {input: {"layers", "hidden", "batch_axis"}}  recurrent state input
    raw_outputs   tensors holding the network's outputs before post-processing (keep when cutting)
    post_processing  ops after the raw outputs (TensorRT-RTX cannot build NonZero / NonMaxSuppression)
    head_after_unsupported  convs after the unsupported op that TensorRT can take again (a split's third part)
    fails_at      [(feeds shapes, values, error substring)] where onnxruntime fails, by architecture
    output_shape_note  a quirk of the exported output declaration
    if_outputs    {"node", "constant_in_branch_taken_at"}  an If one of whose branch outputs is a constant
    fp16_overflow nodes whose float16 output overflows at realistic inputs (keep them FP32)
    relations     dim relations the graph forces, in words ("attention_mask[1] = past[2] + input_ids[1]"); a
                  fails_at case breaks each one that onnxruntime enforces
    trained_size  {input: {axis: value}} the size the model was trained at / its position table or config implies
                  (it runs there; fails_at cases show what lies past a table)
    context / encoder_length / max_sequence   sizes the exporter's config.json states
    fails_outside_domain  [(input, bad value, error substring)]: a value outside value_domains fails there
    bool_switch   {"input", "branches"}: a bool If condition and which branch each value runs
    position_table  {"tensor", "shape", "grid", "patch"} a ViT's position table as the export holds it
    duplicate_value_info  the graph's value_info names some tensors more than once (onnxslim in Ultralytics' export)

Entries may also have (catalog_hf.py, catalog_vision.py; models in folders beside their exporter's side files):
  side_files     file names beside the model (config.json, generation_config.json, preprocessor_config.json)
  roles          {input: role}: what the input is (token_ids, attention_mask, position_ids, token_type_ids,
                 kv_cache, encoder_states, audio_features, image, latent, coordinates, switch, ...)
  value_domains  {input: [low, high]}: inclusive valid values of integer/bool inputs ([1, 1]: all ones)
  workloads      {name: {input: shape}}: the points a deployment runs (prefill, decode); built profiles must
                 cover them; 0-sized dims allowed (an empty KV cache)
  workload_values {name: {input: value}}: switch values of a workload (a merged decoder's use_cache_branch)
"""

from __future__ import annotations

from tests.corpus.catalog_hf import HF_CATALOG
from tests.corpus.catalog_vision import VISION_CATALOG

CATALOG: dict[str, dict] = {
    "classifier_ts.onnx": {
        "family": "classifier",
        "exporter": "torchscript",
        "description": "torchvision mobilenet_v3_small, 10 classes (head 576→256→10), dynamic batch, 224×224",
        "inputs": {"input": ["batch", 3, 224, 224]},
        "realistic": {"input": [1, 3, 224, 224]},
        "facts": {"batch_like": {"input": 0}},
    },
    "segmenter_dynamo.onnx": {
        "family": "segmentation",
        "exporter": "dynamo",
        "description": "U-Net-like encoder/decoder, 5 stride-2 stages, bilinear Resize ×2 + skip Concat, 5 classes",
        "inputs": {"image": ["batch", 3, "32*h32", "32*w32"]},
        "realistic": {"image": [1, 3, 256, 320]},
        "facts": {
            "batch_like": {"image": 0},
            "multiple_of": {"image": {2: 32, 3: 32}},
            "typical": {"image": {2: 512, 3: 512}},
            "fails_at": [({"image": [1, 3, 250, 320]}, {}, "Concat")],
        },
    },
    "text_detector_p2o.onnx": {
        "family": "ocr-detection",
        "exporter": "torchscript",
        "description": "DBNet-like OCR detector (FPN: nearest Resize ×2 + Add, concat at stride 4, "
                       "2 ConvTranspose), paddle2onnx style: all weights Constant nodes, p2o.* names",
        "inputs": {"x": ["p2o.DynamicDimension.0", 3, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]},
        "realistic": {"x": [1, 3, 640, 640]},
        "facts": {
            "batch_like": {"x": 0},
            "multiple_of": {"x": {2: 32, 3: 32}},
            "typical": {"x": {2: 640, 3: 640}},
            "fails_at": [({"x": [1, 3, 630, 640]}, {}, "Add"), ({"x": [1, 3, 16, 16]}, {}, "Add")],
        },
    },
    "text_recognizer_p2o.onnx": {
        "family": "ocr-recognition",
        "exporter": "torchscript",
        "description": "CRNN-like recognizer: conv stack H/16 W/4, collapsed height × channels (3×32) into a "
                       "BiLSTM of fixed input size 96, Linear to 97 classes, softmax; paddle2onnx style",
        "inputs": {"x": ["p2o.DynamicDimension.0", 3, "p2o.DynamicDimension.1", "p2o.DynamicDimension.2"]},
        "realistic": {"x": [1, 3, 48, 320]},
        "facts": {
            "batch_like": {"x": 0},
            "fixed": {"x": {2: 48}},
            "typical": {"x": {3: 320}},
            "fails_at": [({"x": [1, 3, 1, 1]}, {}, "LSTM"), ({"x": [1, 3, 32, 320]}, {}, "LSTM")],
        },
    },
    "detector_nms_ts.onnx": {
        "family": "detection",
        "exporter": "torchscript",
        "description": "anchor-free detector (stride 16, 4 classes): box decoding, score threshold "
                       "(NonZero), torchvision batched_nms (NonMaxSuppression inside an If), TopK ≤ 100, Gathers",
        "inputs": {"image": [1, 3, "height", "width"]},
        "realistic": {"image": [1, 3, 320, 320]},
        "facts": {
            "typical": {"image": {2: 320, 3: 320}},
            "raw_outputs": ["/box_head/Conv_output_0", "/cls_head/Conv_output_0"],
            "post_processing": ["NonZero", "NonMaxSuppression", "TopK", "Gather"],
            "output_shape_note": "outputs have a data-dependent first dim 'detections' (≤ 100)",
        },
    },
    "transformer_dynamo.onnx": {
        "family": "transformer",
        "exporter": "dynamo",
        "description": "nn.TransformerEncoder d_model 256, 8 heads, 2 layers, ff 512, batch_first",
        "inputs": {"tokens": ["batch", "seq", 256]},
        "realistic": {"tokens": [1, 128, 256]},
        "facts": {"batch_like": {"tokens": 0}, "typical": {"tokens": {1: 128}}},
    },
    "transformer_ts_seq64.onnx": {
        "family": "transformer",
        "exporter": "torchscript",
        "description": "the same encoder exported by TorchScript at seq 64: the input says 'seq' but "
                       "attention Reshapes carry the traced 64",
        "inputs": {"tokens": ["batch", "seq", 256]},
        "realistic": {"tokens": [1, 64, 256]},
        "facts": {
            "batch_like": {"tokens": 0},
            "runs_only_at": {"tokens": {1: 64}},
            "baked_reshape": {"node": "/layers.0/self_attn/Reshape_4", "shape": [64, "batch*8", 32]},
            "fails_at": [({"tokens": [1, 128, 256]}, {}, "/layers.0/self_attn/Reshape_4"),
                         ({"tokens": [1, 1, 256]}, {}, "/layers.0/self_attn/Reshape_4")],
        },
    },
    "audio_switch_ts.onnx": {
        "family": "audio",
        "exporter": "torchscript",
        "description": "audio classifier: If (sample_rate != 16000 → linear resample), reflect Pad 200, "
                       "framing Conv1d (400/160, STFT-like), log1p|·|, BatchNorm, 2-layer GRU with state input",
        "inputs": {"audio": ["batch", "samples"], "sample_rate": [], "state": [2, "batch", 64]},
        "realistic": {"audio": [1, 16000], "sample_rate": [], "state": [2, 1, 64]},
        "values": {"sample_rate": 16000},
        "facts": {
            "batch_like": {"audio": 0, "state": 1},
            "min": {"audio": {1: 201}},  # reflect Pad of 200 needs more than 200 samples
            "typical": {"audio": {1: 16000}},
            "switch": {"input": "sample_rate", "compared_with": 16000, "deployed_value": 16000},
            "state": {"state": {"layers": 2, "hidden": 64, "batch_axis": 1}},
            "fails_at": [({"audio": [1, 1], "sample_rate": [], "state": [2, 1, 64]}, {"sample_rate": 16000},
                          "Pad reflect requires axis length >= 2"),
                         ({"audio": [1, 200], "sample_rate": [], "state": [2, 1, 64]}, {"sample_rate": 16000},
                          "Pad reflect: pre-pad")],
        },
    },
    "groupnorm_ts.onnx": {
        "family": "groupnorm",
        "exporter": "torchscript",
        "description": "3 Conv + 2 nn.GroupNorm(8, 32) + SiLU, opset 17: PyTorch's GroupNorm pattern "
                       "Reshape([0, 8, -1]) → InstanceNormalization(ones, zeros) → Reshape(Shape) → Mul → Add; "
                       "group shape and InstanceNormalization scale/bias are Constant nodes, gamma/beta "
                       "[32, 1, 1] initializers",
        "inputs": {"input": ["batch", 3, "height", "width"]},
        "realistic": {"input": [1, 3, 224, 224]},
        "facts": {"batch_like": {"input": 0}, "groupnorm_count": 2, "groups": 8},
    },
    "l2_embedding_ts.onnx": {
        "family": "embedding",
        "exporter": "torchscript",
        "description": "2 stride-2 Conv + ReLU, global pool, Linear 32→128 with ×1000 weights, then h / sqrt(sum(h*h)): "
                       "the sum of squares (~1e7) overflows float16",
        "inputs": {"image": ["batch", 3, 64, 64]},
        "realistic": {"image": [1, 3, 64, 64]},
        "facts": {"batch_like": {"image": 0}, "fp16_overflow": ["/Mul", "/ReduceSum", "/Sqrt"]},
    },
    "sensor_centering_ts.onnx": {
        "family": "sensor",
        "exporter": "torchscript",
        "description": "readings + a DC level of 4096, minus the per-row mean, Linear 32→8: the centred values are "
                       "the small difference of ~4096 magnitudes, which bfloat16 (spacing 32 there) rounds away",
        "inputs": {"readings": ["batch", 32]},
        "realistic": {"readings": [1, 32]},
        "facts": {"batch_like": {"readings": 0}, "bf16_sensitive": ["/Add", "/ReduceMean", "/Sub"]},
    },
    "gru_state_dynamo.onnx": {
        "family": "recurrent",
        "exporter": "dynamo",
        "description": "2-layer GRU (40 → 96) with explicit initial state, Linear to 20 classes",
        "inputs": {"features": ["batch", "seq", 40], "state": [2, "batch", 96]},
        "realistic": {"features": [1, 100, 40], "state": [2, 1, 96]},
        "facts": {
            "batch_like": {"features": 0, "state": 1},
            "typical": {"features": {1: 100}},
            "state": {"state": {"layers": 2, "hidden": 96, "batch_axis": 1}},
            "output_shape_note": "the exporter declares logits [batch, 50, 20] (the traced seq) although "
                                 "the graph runs at any seq",
        },
    },
    "if_cond_dynamo.onnx": {
        "family": "if-switch",
        "exporter": "dynamo",
        "description": "torch.cond on a scalar int64 input: If(mode > 0) selects a 2-conv or a 1-conv branch; "
                       "the weights live in the top graph, the branches use them from the outer scope",
        "inputs": {"x": ["batch", 3, 64, 64], "mode": []},
        "realistic": {"x": [1, 3, 64, 64], "mode": []},
        "values": {"mode": 1},
        "facts": {
            "batch_like": {"x": 0},
            "switch": {"input": "mode", "compared_with": 0, "deployed_value": 1},
        },
    },
    "zoom_scale_ts.onnx": {
        "family": "float-scale",
        "exporter": "torchscript",
        "description": "conv stem, a bilinear resize to int(H * scale) x int(W * scale) computed from the float32 "
                       "scalar input 'scale' (a scripted F.interpolate(size=...)), conv head: TensorRT takes 'scale' "
                       "as a shape tensor and refuses it (shape tensors must be int32/int64)",
        "inputs": {"image": ["batch", 3, "height", "width"], "scale": []},
        "realistic": {"image": [1, 3, 64, 64], "scale": []},
        "values": {"scale": 0.5},
        "facts": {"batch_like": {"image": 0}, "float_shape_tensor": {"input": "scale", "deployed_value": 0.5}},
    },
    "external_data/mlp_external.onnx": {
        "family": "external-data",
        "exporter": "torchscript",
        "description": "MLP 3072 → 256 → 10 saved with its weights in mlp_external.onnx.data next to it",
        "inputs": {"image": ["batch", 3, 32, 32]},
        "realistic": {"image": [1, 3, 32, 32]},
        "facts": {"batch_like": {"image": 0}, "external_data": "mlp_external.onnx.data"},
    },
    "mid_nonzero_ts.onnx": {
        "family": "cnn-with-data-dependent-op",
        "exporter": "torchscript",
        "description": "two stride-2 conv blocks, the share of active cells counted with torch.nonzero "
                       "(NonZero) scaling the features, then a conv head: an op TensorRT-RTX refuses in the middle",
        "inputs": {"image": [1, 3, 64, 64]},
        "realistic": {"image": [1, 3, 64, 64]},
        "facts": {
            "raw_outputs": ["/backbone/backbone.1/backbone.1.2/Relu_output_0"],
            "post_processing": ["NonZero"],
            "head_after_unsupported": ["/head/head.0/head.0.0/Conv", "/head/head.1/Conv"],
        },
    },
}

# Not committed (about 9 MB): make_corpus.make_ssdlite(path) writes torchvision's
# ssdlite320_mobilenet_v3_large (random weights) for benchmarks that need a full torchvision detector;
# make_corpus.make_resnet50(path) writes torchvision's ResNet-50 (about 100 MB, dynamic batch × height ×
# width) for benchmarks that need a full-size model. Both need torch at run time.

# Measured with the real TensorRT-RTX 1.7.1.116 (CPU-only build, no GPU) on 2026-11-23: parse =
# OnnxParser.parse_from_file / supports_model_v2; build = build_serialized_network with one profile
# min = opt = max at the shape given (right column: every dynamic dim set to 1, static dims kept; the
# audio model's sample_rate is a shape-tensor input, fed its deployed value 16000).
#
# model                        parse  realistic shape        build   all dynamic dims = 1           build
# classifier_ts                ok     1x3x224x224            ok      1x3x224x224                    ok
# segmenter_dynamo             ok     1x3x256x320            ok      1x3x1x1                        FAIL: Concat node_cat "axis 2 dimensions must be equal … 2 and 1"
# text_detector_p2o            ok     1x3x640x640            ok      1x3x1x1                        ok (onnxruntime runs it too: 32×32 output)
# text_recognizer_p2o          ok     1x3x48x320             ok      1x3x1x1                        FAIL: Reshape p2o.Reshape.0 "reshape wildcard -1 has infinite number of solutions … [1,0,32,0] to [1,0,-1]"
# detector_nms_ts              FAIL: "NonZero plugin creator version 1 was not found in plugin registry" (node /NonZero); supports_model_v2 False, 2 unsupported subgraphs
#   … cut at raw_outputs (onnx.utils.extract_model)   1x3x320x320 ok; 1x3x1x1 ok
# transformer_dynamo           ok     1x128x256              ok      1x1x256                        ok
# transformer_ts_seq64         ok     1x64x256               ok      1x1x256                        FAIL: Reshape /layers.0/self_attn/Reshape_4 "reshape changes volume. Reshaping [1,1,256] to [64,8,32]"
# audio_switch_ts              ok     1x16000, 16000, 2x1x64 ok      1x1, 16000, 2x1x64             ok (builds, although onnxruntime fails: Pad reflect)
# groupnorm_ts                 ok     1x3x224x224            ok      1x3x1x1                        ok
# gru_state_dynamo             ok     1x100x40, 2x1x96       ok      1x1x40, 2x1x96                 ok
# if_cond_dynamo               ok     1x3x64x64, scalar      ok      (only batch is dynamic)        ok
# external_data/mlp_external   ok     1x3x32x32              ok      (only batch is dynamic)        ok
# sensor_centering_ts          ok     1x32                   ok      1x32                           ok (and converted to BF16)
#
# At the catalogue's fails_at shapes TensorRT-RTX fails to build as onnxruntime fails to run, except the
# audio model at 1 sample (builds): segmenter 250x320 (Concat node_cat_2 "64 and 63"), text detector
# 630x640 (Add p2o.Add.1 "broadcast dimensions must be conformable"), recognizer H=32 (MatMul
# "mismatching dimensions"), transformer_ts seq 128 (Reshape_4 "Reshaping [128,1,256] to [64,8,32]").
# SSDlite from make_ssdlite(): parse fails on the same NonZero; supports_model_v2 False, 2 subgraphs.

# The same audio architecture, its switch If returning (audio, gain): what the catalogue says of the
# audio model holds, plus the If whose branch output is a constant.
CATALOG["audio_gain_switch_ts.onnx"] = {
    **CATALOG["audio_switch_ts.onnx"],
    "description": "the audio classifier whose switch If returns two outputs (audio, loudness gain); the branch "
                   "taken at 16 kHz returns the gain as a constant (torch.ones(1)), which onnx-graphsurgeon's "
                   "If flattening leaves without a producer",
    "facts": {**CATALOG["audio_switch_ts.onnx"]["facts"],
              "if_outputs": {"node": "If_23", "constant_in_branch_taken_at": 16000}},
}

# Hugging Face exports (make_corpus_hf.py) and the vision / diffusion exports (make_corpus_vision.py).
CATALOG.update(HF_CATALOG)
CATALOG.update(VISION_CATALOG)
