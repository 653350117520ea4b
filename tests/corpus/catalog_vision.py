"""Catalogue of the vision exports written by ``make_corpus_vision.py`` (pure data; merged into ``CATALOG``).

The fields are those documented in ``catalog.py``. Every ``fails_at`` case, minimum, multiple and workload is
run by ``test_corpus.py`` under onnxruntime; a relation is backed by a ``fails_at`` case that breaks it.
TensorRT-RTX facts in the descriptions were measured with TensorRT-RTX 1.7.1.116 (CPU-only build) on
2026-12-04: parse = ``OnnxParser.parse_from_file``, build = ``build_serialized_network`` with one profile
min = opt = max at the ``deploy`` workload.
"""

from __future__ import annotations

ULTRALYTICS_METADATA = {
    "imgsz": "[640, 640]",
    "stride": "32",
    "batch": "1",
    "task": "detect",
    "channels": "3",
    "end2end": "False",
    "names": str({index: str(index) for index in range(80)}),  # no dataset: the 80 COCO ids name themselves
}
YOLO_DESCRIPTION = (
    "Ultralytics yolov8.yaml (80 classes, Detect head on P3–P5) at width 0.0625, depth 0.33, exported by "
    "YOLO(...).export(format='onnx', imgsz=640, opset=17) with onnxslim; metadata_props as Ultralytics wrote "
    "them (imgsz '[640, 640]', stride '32', batch '1' even for a dynamic export, names, args, a date that "
    "changes on every export); onnxslim repeats value_info entries (how many times changes run to run): "
    "on the static model trt-workbench convert --to fp16 then fails to load its result in onnxruntime "
    "('Type (tensor(float)) of output arg (/model.10/Resize_output_0) of node (/model.10/Resize_output_cast0) "
    "does not match expected type (tensor(float16))'; with the duplicates removed it converts). TensorRT-RTX "
    "parses and builds it at 1x3x640x640")

VISION_CATALOG: dict[str, dict] = {
    "yolov8_dynamic_ultralytics.onnx": {
        "family": "detection",
        "exporter": "ultralytics",
        "description": YOLO_DESCRIPTION + "; dynamic=True: batch × height × width, output0 [batch, 84, anchors]",
        "inputs": {"images": ["batch", 3, "height", "width"]},
        "realistic": {"images": [1, 3, 640, 640]},
        "workloads": {"deploy": {"images": [1, 3, 640, 640]}},
        "roles": {"images": "image"},
        "metadata": ULTRALYTICS_METADATA,
        "facts": {
            "batch_like": {"images": 0},
            "multiple_of": {"images": {2: 32, 3: 32}},
            "trained_size": {"images": {2: 640, 3: 640}},
            "duplicate_value_info": True,
            "fails_at": [({"images": [1, 3, 630, 640]}, {}, "Concat"),
                         ({"images": [1, 3, 16, 16]}, {}, "Concat")],
        },
    },
    "yolov8_static_ultralytics.onnx": {
        "family": "detection",
        "exporter": "ultralytics",
        "description": YOLO_DESCRIPTION + "; dynamic=False: every shape static, output0 [1, 84, 8400]",
        "inputs": {"images": [1, 3, 640, 640]},
        "realistic": {"images": [1, 3, 640, 640]},
        "workloads": {"deploy": {"images": [1, 3, 640, 640]}},
        "roles": {"images": "image"},
        "metadata": ULTRALYTICS_METADATA,
        "facts": {"trained_size": {"images": {2: 640, 3: 640}}, "duplicate_value_info": True},
    },
    "text_classifier_p2o.onnx": {
        "family": "ocr-classification",
        "exporter": "torchscript",
        "description": "PaddleOCR-like text direction classifier (0°/180°): stride-2 stem, 3 depthwise-separable "
                       "stride-2 blocks with hardswish, global average pool, Linear to 2, softmax; paddle2onnx "
                       "style with every dynamic dim named '?' (x: [?, 3, ?, ?]). onnxruntime runs it at any "
                       "size, but TensorRT's parser takes dims that share a name as equal: a profile at "
                       "1x3x48x192 parses and fails to build with 'Input dimensions with this name have "
                       "different constant values or have contradictory IOptimizationProfile kMIN/kMAX "
                       "constraints' (so does 1x3x48x48: batch is '?' too); it builds only where batch = H = W "
                       "(48x3x48x48). The dims must be renamed before a real profile builds",
        "inputs": {"x": ["?", 3, "?", "?"]},
        "realistic": {"x": [1, 3, 48, 192]},
        "workloads": {"deploy": {"x": [1, 3, 48, 192]}},
        "roles": {"x": "image"},
        "facts": {"batch_like": {"x": 0}, "typical": {"x": {2: 48, 3: 192}}},
    },
    "depth_vit_ts.onnx": {
        "family": "depth-estimation",
        "exporter": "torchscript",
        "description": "transformers DepthAnythingForDepthEstimation, DINOv2 backbone (image_size 518, patch 14, "
                       "hidden 48, 4 layers, position table 37×37+1), DPT neck and head; TorchScript with "
                       "dynamic batch_size × height × width. Tracing always interpolates the position table "
                       "(bicubic Resize of its 37×37 part, folded into a [1, 1369, 48] constant), so any size "
                       "of at least one patch runs (non-multiples of 14 too: the patch Conv floors), but the "
                       "head's last Resize carries the traced 518×518: predicted_depth is 518×518 whatever the "
                       "input, although declared [batch_size, height, width]. TensorRT-RTX parses and builds "
                       "it at 1x3x518x518",
        "inputs": {"pixel_values": ["batch_size", 3, "height", "width"]},
        "realistic": {"pixel_values": [1, 3, 518, 518]},
        "workloads": {"deploy": {"pixel_values": [1, 3, 518, 518]}},
        "roles": {"pixel_values": "image"},
        "facts": {
            "batch_like": {"pixel_values": 0},
            "trained_size": {"pixel_values": {2: 518, 3: 518}},
            "min": {"pixel_values": {2: 14, 3: 14}},
            "position_table": {"tensor": "onnx::Reshape_901", "shape": [1, 1369, 48], "grid": 37, "patch": 14},
            "fails_at": [({"pixel_values": [1, 3, 13, 518]}, {}, "Conv")],
            "output_shape_note": "predicted_depth is declared [batch_size, height, width] but is 518×518 at "
                                 "every input size (the traced size of the head's Resize)",
        },
    },
    "depth_vit_dynamo.onnx": {
        "family": "depth-estimation",
        "exporter": "dynamo",
        "description": "the same Depth-Anything model exported by the dynamo exporter at 2×3×518×518 with "
                       "dynamic batch_size and H, W = 14·h14, 14·w14: at the trained size DINOv2 skips "
                       "interpolating its position table, so the exported graph adds the [1, 1370, 48] table "
                       "as it is and only 518×518 runs; the exporter's guard height == width gave both dims "
                       "the one name '14*h14'. TensorRT-RTX parses and builds it at 1x3x518x518",
        "inputs": {"pixel_values": ["batch_size", 3, "14*h14", "14*h14"]},
        "realistic": {"pixel_values": [1, 3, 518, 518]},
        "workloads": {"deploy": {"pixel_values": [1, 3, 518, 518]}},
        "roles": {"pixel_values": "image"},
        "facts": {
            "batch_like": {"pixel_values": 0},
            "fixed": {"pixel_values": {2: 518, 3: 518}},
            "trained_size": {"pixel_values": {2: 518, 3: 518}},
            "position_table": {"tensor": "model.backbone.embeddings.position_embeddings", "shape": [1, 1370, 48],
                               "grid": 37, "patch": 14},
            "relations": ["pixel_values[2] = pixel_values[3] (declared: both are '14*h14')"],
            "fails_at": [({"pixel_values": [1, 3, 504, 504]}, {}, "Add"),
                         ({"pixel_values": [1, 3, 532, 532]}, {}, "Add"),
                         ({"pixel_values": [1, 3, 392, 518]}, {}, "Reshape")],
            "output_shape_note": "predicted_depth is declared [batch_size, 518, 518]",
        },
    },
    "sd_unet_optimum/model.onnx": {
        "family": "diffusion-unet",
        "exporter": "optimum",
        "description": "diffusers UNet2DConditionModel (block_out_channels (32, 64), one down/up sampling, 1 layer "
                       "per block, cross_attention_dim 32, sample_size 64) from a Stable-Diffusion-1.x-shaped "
                       "pipeline, exported with the model and ONNX config of Optimum's "
                       "get_diffusion_models_for_export (what optimum-cli writes to unet/): timestep is a float "
                       "scalar. H, W of the latents must be even here (one downsampling; Stable Diffusion's four "
                       "blocks need multiples of 8). TensorRT-RTX parses and builds it at the deploy workload",
        "inputs": {"sample": ["batch_size", 4, "height", "width"], "timestep": [],
                   "encoder_hidden_states": ["batch_size", "sequence_length", 32]},
        "realistic": {"sample": [1, 4, 64, 64], "timestep": [], "encoder_hidden_states": [1, 77, 32]},
        "workloads": {"deploy": {"sample": [1, 4, 64, 64], "timestep": [], "encoder_hidden_states": [1, 77, 32]}},
        "roles": {"sample": "latent", "timestep": "per_batch_scalar", "encoder_hidden_states": "encoder_states"},
        "side_files": ["config.json"],
        "facts": {
            "batch_like": {"sample": 0, "encoder_hidden_states": 0},
            "multiple_of": {"sample": {2: 2, 3: 2}},
            "trained_size": {"sample": {2: 64, 3: 64}},  # config.json sample_size
            "typical": {"encoder_hidden_states": {1: 77}},  # CLIP's 77 positions
            "relations": ["encoder_hidden_states[0] = sample[0]"],
            "fails_at": [({"sample": [1, 4, 63, 64], "timestep": [], "encoder_hidden_states": [1, 77, 32]}, {},
                          "Concat"),
                         ({"sample": [2, 4, 64, 64], "timestep": [], "encoder_hidden_states": [1, 77, 32]}, {},
                          "Add")],
        },
    },
    "sd_vae_decoder_optimum/model.onnx": {
        "family": "diffusion-vae-decoder",
        "exporter": "optimum",
        "description": "diffusers AutoencoderKL decoder (4 blocks of (8, 16, 16, 16) channels, 4 latent channels, "
                       "sample_size 512) exported with Optimum's vae-decoder config (what optimum-cli writes to "
                       "vae_decoder/): sample [batch_size, 3, latent_height * 8, latent_width * 8]; any latent "
                       "size runs. TensorRT-RTX parses and builds it at 1x4x64x64",
        "inputs": {"latent_sample": ["batch_size", 4, "latent_height", "latent_width"]},
        "realistic": {"latent_sample": [1, 4, 64, 64]},
        "workloads": {"deploy": {"latent_sample": [1, 4, 64, 64]}},
        "roles": {"latent_sample": "latent"},
        "side_files": ["config.json"],
        "facts": {
            "batch_like": {"latent_sample": 0},
            "trained_size": {"latent_sample": {2: 64, 3: 64}},  # config.json sample_size 512 / 8
        },
    },
    "sam_optimum/prompt_encoder_mask_decoder.onnx": {
        "family": "segmentation-prompt",
        "exporter": "optimum",
        "description": "transformers SamModel (hidden 32; the real SAM has 256) exported by Optimum's main_export "
                       "(task feature-extraction, default 'split' variant): prompt encoder + mask decoder on the "
                       "vision encoder's 64×64 embeddings; points in pixels of the 1024×1024 input, labels "
                       "1 = foreground, 0 = background (-1 marks padding points); pred_masks at 256×256. "
                       "TensorRT-RTX does not parse it: 'NonZero plugin creator version 1 was not found in "
                       "plugin registry' (/mask_decoder/NonZero)",
        "inputs": {"input_points": ["batch_size", "point_batch_size", "nb_points_per_image", 2],
                   "input_labels": ["batch_size", "point_batch_size", "nb_points_per_image"],
                   "image_embeddings": ["batch_size", 32, 64, 64],
                   "image_positional_embeddings": ["batch_size", 32, 64, 64]},
        "realistic": {"input_points": [1, 1, 1, 2], "input_labels": [1, 1, 1], "image_embeddings": [1, 32, 64, 64],
                      "image_positional_embeddings": [1, 32, 64, 64]},
        "workloads": {"deploy": {"input_points": [1, 1, 1, 2], "input_labels": [1, 1, 1],
                                 "image_embeddings": [1, 32, 64, 64], "image_positional_embeddings": [1, 32, 64, 64]}},
        "roles": {"input_points": "coordinates", "input_labels": "point_labels", "image_embeddings": "encoder_states",
                  "image_positional_embeddings": "encoder_states"},
        "value_domains": {"input_labels": [0, 1]},
        "side_files": ["config.json", "preprocessor_config.json"],
        "facts": {
            "batch_like": {"input_points": 0, "input_labels": 0, "image_embeddings": 0},
            "typical": {"input_points": {1: 1, 2: 1}},
            "relations": ["image_embeddings[0] = input_points[0]",
                          "input_labels[0:3] = input_points[0:3]",
                          "image_positional_embeddings[0] = 1 or input_points[0] (it broadcasts)"],
            "fails_at": [({"input_points": [2, 1, 1, 2], "input_labels": [2, 1, 1], "image_embeddings": [1, 32, 64, 64],
                           "image_positional_embeddings": [1, 32, 64, 64]}, {}, "Concat"),
                         ({"input_points": [1, 1, 1, 2], "input_labels": [1, 1, 2], "image_embeddings": [1, 32, 64, 64],
                           "image_positional_embeddings": [1, 32, 64, 64]}, {}, "Where")],
            "post_processing": ["NonZero"],
        },
    },
    "sam_optimum/vision_encoder.onnx": {
        "family": "segmentation-encoder",
        "exporter": "optimum",
        "description": "SAM's vision encoder from the same export (ViT, patch 16, windowed + global attention, "
                       "hidden 32): pixel_values [batch_size, 3, 1024, 1024] → image_embeddings and "
                       "image_positional_embeddings [batch_size, 32, 64, 64]. TensorRT-RTX parses and builds it",
        "inputs": {"pixel_values": ["batch_size", 3, 1024, 1024]},
        "realistic": {"pixel_values": [1, 3, 1024, 1024]},
        "workloads": {"deploy": {"pixel_values": [1, 3, 1024, 1024]}},
        "roles": {"pixel_values": "image"},
        "side_files": ["config.json", "preprocessor_config.json"],
        "facts": {"batch_like": {"pixel_values": 0}, "trained_size": {"pixel_values": {2: 1024, 3: 1024}}},
    },
    "rtdetr_optimum/model.onnx": {
        "family": "detection",
        "exporter": "optimum",
        "description": "transformers RTDetrForObjectDetection (ResNet-basic backbone at strides 8/16/32, hybrid "
                       "encoder, 1 decoder layer, d_model 32, 300 queries, 80 labels) exported by Optimum's "
                       "main_export (task object-detection); preprocessor_config.json resizes to 640×640. H, W "
                       "must be multiples of 32 (the encoder's FPN Concat), and the three levels must hold at "
                       "least 300 tokens (TopK over them picks the 300 queries): 128×128 runs, 96×96 fails. "
                       "TensorRT-RTX parses and builds it at 1x3x640x640",
        "inputs": {"pixel_values": ["batch_size", 3, "height", "width"]},
        "realistic": {"pixel_values": [1, 3, 640, 640]},
        "workloads": {"deploy": {"pixel_values": [1, 3, 640, 640]}},
        "roles": {"pixel_values": "image"},
        "side_files": ["config.json", "preprocessor_config.json"],
        "facts": {
            "batch_like": {"pixel_values": 0},
            "multiple_of": {"pixel_values": {2: 32, 3: 32}},
            "trained_size": {"pixel_values": {2: 640, 3: 640}},  # preprocessor_config.json size
            "relations": ["(H/8)(W/8) + (H/16)(W/16) + (H/32)(W/32) >= 300 (num_queries, TopK)"],
            "fails_at": [({"pixel_values": [1, 3, 630, 640]}, {}, "Concat"),
                         ({"pixel_values": [1, 3, 96, 96]}, {}, "TopK")],
        },
    },
    "ssdlite320_torchvision_ts.onnx": {
        "family": "detection-unbatched",  # torchvision's detectors take a list of [3, H, W] images, no batch dim
        "exporter": "torchscript",
        "description": "torchvision ssdlite320_mobilenet_v3_large (weights=None, weights_backbone=None, "
                       "num_classes=16, MobileNetV3-Large width_mult 0.25) exported by torch.onnx.export "
                       "(TorchScript, opset 17) on a list of one [3, 320, 320] image, eval mode: normalisation and "
                       "resize inside, SSD heads, then per-class post-processing unrolled (a NonZero, GatherND "
                       "and TopK per class: 30 NonZeros) and batched NMS in an If. TensorRT-RTX rejects every "
                       "NonZero ('NonZero plugin creator version 1 was not found in plugin registry'), its "
                       "capability check names only the first ones",
        "inputs": {"images": [3, 320, 320]},
        "realistic": {"images": [3, 320, 320]},
        "workloads": {"deploy": {"images": [3, 320, 320]}},
        "facts": {
            "post_processing": ["NonZero", "GatherND", "TopK"],
            "topk_candidates": 300,  # ssdlite320_mobilenet_v3_large's default: each class keeps at most 300 boxes
            "output_shape_note": "boxes, scores, labels have a data-dependent first dim 'detections' (≤ 300)",
        },
    },
    "faster_rcnn_torchvision_ts.onnx": {
        "family": "detection-unbatched",
        "exporter": "torchscript",
        "description": "torchvision's fasterrcnn_mobilenet_v3_large_320_fpn recipe (its backbone extraction, "
                       "anchors, min_size 320, 150 RPN proposals) with narrower widths (MobileNetV3-Large "
                       "width_mult 0.25, FPN 64 channels, box head 64, 3 classes), random weights, exported by "
                       "torch.onnx.export (TorchScript, opset 17) on a list of one [3, 320, 320] image: RPN with "
                       "NonZero/TopK/NMS, MultiScaleRoIAlign (RoiAlign per level after a NonZero level "
                       "assignment), the box head, per-class NMS. TensorRT-RTX rejects NonZero",
        "inputs": {"images": [3, 320, 320]},
        "realistic": {"images": [3, 320, 320]},
        "workloads": {"deploy": {"images": [3, 320, 320]}},
        "facts": {
            "post_processing": ["NonZero", "TopK", "NonMaxSuppression", "RoiAlign"],
            "output_shape_note": "boxes, labels, scores have a data-dependent first dim 'detections' (≤ 100)",
        },
    },
}
