"""Generate the corpus's vision exports: YOLOv8 (Ultralytics), a PaddleOCR-like direction classifier, a
Depth-Anything ViT, Stable-Diffusion UNet and VAE decoder, SAM's prompt encoder + mask decoder, RT-DETR, and
torchvision's SSDlite320 and Faster R-CNN (MobileNetV3-320-FPN).

Needs torch, torchvision, onnxscript, transformers, diffusers, optimum-onnx and ultralytics (none of them a
dependency of the app or of the tests, which only read the committed files). Install into a separate virtual
environment:

    pip install torch torchvision onnxscript onnx onnxruntime transformers diffusers optimum-onnx ultralytics

and run from the repository root:

    python tests/corpus/make_corpus_vision.py          # every model
    python tests/corpus/make_corpus_vision.py yolov8   # only the models whose file name contains a word

Every model is built from a config in code with random weights seeded by ``torch.manual_seed`` (no download)
and exported by the exporter people use for it: Ultralytics' ``YOLO(...).export``, Optimum's exporter with the
ONNX config Optimum picks for the model (diffusers UNet / VAE decoder, SAM), ``torch.onnx.export``
(TorchScript and dynamo) for the rest. Widths and layer counts are tiny; the architectural facts the shape
service must find are kept real: strides, the ViT patch 14 and its 37×37+1 position table (trained at 518),
4 latent channels and the VAE's ×8 upsampling, SAM's 64×64 image embeddings, input and dim names exactly as
the exporter writes them, Ultralytics' metadata. Each ``.onnx`` gets ``finish()`` (lowest IR version for its
opsets, no doc strings; the model's own metadata_props stay).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import onnx
import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.corpus.make_corpus import (  # noqa: E402
    CORPUS, SEED, TS_OPSET, calibrate_batchnorm, export_dynamo, export_ts, finish, paddle2onnx_style, run_makers,
    save)

YOLO_OPSET = 17


# --------------------------------------------------------------------------------------------------
# 1 / 2. YOLOv8 detector, Ultralytics export (dynamic and static)
# --------------------------------------------------------------------------------------------------

YOLO_WIDTH_MULTIPLE = 0.0625  # yolov8n is 0.25; at 0.125 the file is 4.7 MB (the Detect head keeps 64/80 channels)


def yolov8_yaml() -> str:
    """Ultralytics' own yolov8.yaml (80 COCO classes) with one tiny scale instead of n/s/m/l/x."""
    import ultralytics

    text = (Path(ultralytics.__file__).parent / "cfg/models/v8/yolov8.yaml").read_text()
    scale = f"depth_multiple: 0.33\nwidth_multiple: {YOLO_WIDTH_MULTIPLE}\nmax_channels: 1024\n\n"
    return re.sub(r"^scales:.*?\n\n", scale, text, flags=re.S | re.M)


def export_yolov8(name: str, dynamic: bool) -> None:
    os.environ["YOLO_OFFLINE"] = "1"  # no version check, no hub calls
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "yolov8-tiny.yaml"
        config.write_text(yolov8_yaml())
        torch.manual_seed(SEED)
        model = YOLO(str(config))
        # BatchNorm statistics of a training pass (Ultralytics folds them into the convs on export): with the
        # default ones the activations fade and output0 hardly depends on the image
        calibrate_batchnorm(model.model, torch.randn(4, 3, 320, 320))
        here = Path.cwd()
        os.chdir(tmp)  # Ultralytics writes beside the weights / into the working folder
        try:
            exported = model.export(format="onnx", dynamic=dynamic, imgsz=640, opset=YOLO_OPSET)
        finally:
            os.chdir(here)
        save(finish(onnx.load(str(Path(tmp) / exported))), name)


def make_yolov8_dynamic() -> None:
    export_yolov8("yolov8_dynamic_ultralytics.onnx", dynamic=True)


def make_yolov8_static() -> None:
    export_yolov8("yolov8_static_ultralytics.onnx", dynamic=False)


# --------------------------------------------------------------------------------------------------
# 3. PaddleOCR-like text direction classifier (0° / 180°), TorchScript, paddle2onnx style with "?" dims
# --------------------------------------------------------------------------------------------------

CLS_HEIGHT, CLS_WIDTH = 48, 192  # PaddleOCR's cls_image_shape 3, 48, 192


class TinyDirectionClassifier(nn.Module):
    """MobileNetV3-ish: a stride-2 stem, depthwise-separable blocks with hardswish, global average pool,
    Linear to 2 classes (0° / 180°), softmax, as PaddleOCR's ch_ppocr_mobile cls."""

    def __init__(self, widths=(8, 16, 24, 32)):
        super().__init__()
        layers = [nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.Hardswish()]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.Hardswish(),
                       nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.Hardswish()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], 2)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1)).softmax(dim=1)


def make_text_classifier() -> None:
    torch.manual_seed(SEED)
    net = calibrate_batchnorm(TinyDirectionClassifier(), torch.randn(8, 3, CLS_HEIGHT, CLS_WIDTH))
    model = export_ts(net, (torch.randn(1, 3, CLS_HEIGHT, CLS_WIDTH),), ["x"], ["softmax_0.tmp_0"],
                      {"x": {0: "N", 2: "H", 3: "W"}, "softmax_0.tmp_0": {0: "N"}})
    save(paddle2onnx_style(model, dim_name="?"), "text_classifier_p2o.onnx")


# --------------------------------------------------------------------------------------------------
# 4 / 5. Depth Anything (DINOv2 backbone, patch 14, trained at 518), TorchScript and dynamo
# --------------------------------------------------------------------------------------------------

DEPTH_SIZE = 518  # 37 × 14: the position table has 37 × 37 + 1 rows


def depth_anything() -> nn.Module:
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    torch.manual_seed(SEED)
    # initializer_range 0.1 (0.02 in the real configs): with random weights at 0.02 the depth map's spread is
    # ~1e-6, too small for a perturbed copy to compare different
    backbone = Dinov2Config(image_size=DEPTH_SIZE, patch_size=14, hidden_size=48, num_hidden_layers=4,
                            num_attention_heads=3, intermediate_size=96, out_indices=[1, 2, 3, 4],
                            apply_layernorm=True, reshape_hidden_states=False, initializer_range=0.1)
    config = DepthAnythingConfig(backbone_config=backbone, patch_size=14, reassemble_hidden_size=48,
                                 neck_hidden_sizes=[8, 16, 32, 48], fusion_hidden_size=16, head_hidden_size=8,
                                 initializer_range=0.1)
    return DepthEstimator(DepthAnythingForDepthEstimation(config)).eval()


class DepthEstimator(nn.Module):
    """The transformers model returns a ModelOutput; the exporters take tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).predicted_depth


def make_depth_ts() -> None:
    image = torch.randn(1, 3, DEPTH_SIZE, DEPTH_SIZE)
    model = export_ts(depth_anything(), (image,), ["pixel_values"], ["predicted_depth"],
                      {"pixel_values": {0: "batch_size", 2: "height", 3: "width"},
                       "predicted_depth": {0: "batch_size", 1: "height", 2: "width"}})
    save(model, "depth_vit_ts.onnx")


def make_depth_dynamo() -> None:
    batch = torch.export.Dim("batch_size", min=1, max=64)
    height = 14 * torch.export.Dim("h14", min=1, max=128)
    width = 14 * torch.export.Dim("w14", min=1, max=128)
    image = torch.randn(2, 3, DEPTH_SIZE, DEPTH_SIZE)  # batch 2: a sample batch of 1 is specialised to 1
    model = export_dynamo(depth_anything(), (image,), ["pixel_values"], ["predicted_depth"],
                          {"pixel_values": {0: batch, 2: height, 3: width}})
    save(model, "depth_vit_dynamo.onnx")


# --------------------------------------------------------------------------------------------------
# 6 / 7. Stable-Diffusion UNet and VAE decoder, Optimum's diffusion export
# --------------------------------------------------------------------------------------------------

def tiny_stable_diffusion():
    """A Stable-Diffusion-1.x-shaped pipeline: UNet on 4 latent channels (sample_size 64), VAE with 4 blocks
    (3 upsamplings: images 8× the latents, sample_size 512), CLIP text encoder with 77 positions."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(SEED)
    unet = UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, block_out_channels=(32, 64),
                                layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
                                attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 16, 16),
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        layers_per_block=1, norm_num_groups=8, sample_size=512)
    text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=1000, hidden_size=32, intermediate_size=64,
                                                num_hidden_layers=1, num_attention_heads=4,
                                                max_position_embeddings=77, projection_dim=32))
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=None, unet=unet,
                                   scheduler=PNDMScheduler(), safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def export_diffusion_part(part: str, folder: str) -> None:
    """One part of the pipeline as ``optimum-cli export onnx`` writes it: ``<part>/model.onnx`` with the part's
    ``config.json`` beside it, the model and ONNX config from Optimum's ``get_diffusion_models_for_export``."""
    from optimum.exporters.onnx import export
    from optimum.exporters.utils import get_diffusion_models_for_export

    model, onnx_config = get_diffusion_models_for_export(tiny_stable_diffusion())[part]
    target = CORPUS / folder
    target.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        export(model.eval(), onnx_config, Path(tmp) / "model.onnx", opset=onnx_config.DEFAULT_ONNX_OPSET)
        save(finish(onnx.load(str(Path(tmp) / "model.onnx"))), f"{folder}/model.onnx")
    model.save_config(target)


def make_unet() -> None:
    export_diffusion_part("unet", "sd_unet_optimum")


def make_vae_decoder() -> None:
    export_diffusion_part("vae_decoder", "sd_vae_decoder_optimum")


# --------------------------------------------------------------------------------------------------
# 8 / 9. SAM (vision encoder; prompt encoder + mask decoder) and RT-DETR, Optimum's main_export
# --------------------------------------------------------------------------------------------------

def optimum_export(model, processor, task: str, folder: str) -> None:
    """``model.save_pretrained`` + the processor into a temporary folder, then Optimum's ``main_export`` on it
    (what ``optimum-cli export onnx --model <folder> --task <task>`` runs); the ONNX files get ``finish()``
    and the side files are copied as Optimum wrote them."""
    from optimum.exporters.onnx import main_export

    target = CORPUS / folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    with tempfile.TemporaryDirectory() as tmp:
        source, output = Path(tmp) / "source", Path(tmp) / "onnx"
        model.save_pretrained(source)
        processor.save_pretrained(source)
        main_export(str(source), output, task=task, do_validation=False)
        for path in sorted(output.iterdir()):
            if path.suffix == ".onnx":
                save(finish(onnx.load(str(path))), f"{folder}/{path.name}")
            else:
                shutil.copy(path, target / path.name)


SAM_HIDDEN = 32  # 256 in the real SAM: the channels of the image embeddings


def make_sam() -> None:
    from transformers import (SamConfig, SamImageProcessor, SamMaskDecoderConfig, SamModel, SamProcessor,
                              SamPromptEncoderConfig, SamVisionConfig)

    torch.manual_seed(SEED)
    # image_size 1024 / patch 16 = the 64 × 64 image embeddings; initializer_range 0.2 (real: 1e-10 for the
    # vision encoder, 0.02 elsewhere): with random weights the embeddings would be ~1e-20 and the masks flat
    vision = SamVisionConfig(hidden_size=32, output_channels=SAM_HIDDEN, num_hidden_layers=2, num_attention_heads=2,
                             image_size=1024, patch_size=16, window_size=14, global_attn_indexes=[1],
                             num_pos_feats=SAM_HIDDEN // 2, mlp_dim=64, initializer_range=0.2)
    config = SamConfig(vision_config=vision, prompt_encoder_config=SamPromptEncoderConfig(hidden_size=SAM_HIDDEN),
                       mask_decoder_config=SamMaskDecoderConfig(hidden_size=SAM_HIDDEN, mlp_dim=64,
                                                                num_attention_heads=2, iou_head_hidden_dim=32),
                       initializer_range=0.2)
    optimum_export(SamModel(config).eval(), SamProcessor(SamImageProcessor()), "feature-extraction", "sam_optimum")


def make_rtdetr() -> None:
    from transformers import RTDetrConfig, RTDetrForObjectDetection, RTDetrImageProcessor, RTDetrResNetConfig

    torch.manual_seed(SEED)
    backbone = RTDetrResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
                                  layer_type="basic", out_features=["stage2", "stage3", "stage4"])
    config = RTDetrConfig(backbone_config=backbone, encoder_in_channels=[32, 64, 128], encoder_hidden_dim=32,
                          encoder_ffn_dim=64, encoder_attention_heads=2, d_model=32, decoder_in_channels=[32, 32, 32],
                          decoder_ffn_dim=64, decoder_layers=1, decoder_attention_heads=2, num_queries=300,
                          num_labels=80)
    optimum_export(RTDetrForObjectDetection(config).eval(), RTDetrImageProcessor(), "object-detection",
                   "rtdetr_optimum")


# --------------------------------------------------------------------------------------------------
# 10 / 11. torchvision detectors: SSDlite320-MobileNetV3 and Faster R-CNN MobileNetV3-Large-320-FPN
# --------------------------------------------------------------------------------------------------

# SSDlite's post-processing is unrolled per class (a NonZero, TopK, GatherND … each): 16 classes keep that
# repetition (32 NonZeros) in a file below 5 MB; Faster R-CNN's per-class work is batched, 3 classes do
SSDLITE_CLASSES, FASTER_RCNN_CLASSES = 16, 3  # 91 in the COCO models
DETECTOR_WIDTH = 0.25  # MobileNetV3-Large's width_mult (1.0 in the real models: 14 / 76 MB at 91 classes)
FASTER_RCNN_FPN_CHANNELS, FASTER_RCNN_REPRESENTATION = 64, 64  # 256 and 1024 in torchvision's builder


def export_detector(net: nn.Module, name: str, outputs: list[str]) -> None:
    """torchvision's detection export as its docs show it: a list of one [3, 320, 320] image, outputs with a
    data-dependent 'detections' dim, named in the order of the model's result dict. The backbone's BatchNorm
    statistics come from a training pass (else the features fade and a perturbed copy detects the same)."""
    calibrate_batchnorm(net.backbone, torch.randn(4, 3, 320, 320))
    buffer = io.BytesIO()
    torch.onnx.export(net.eval(), ([torch.rand(3, 320, 320)],), buffer, dynamo=False, opset_version=TS_OPSET,
                      input_names=["images"], output_names=outputs,
                      dynamic_axes={output: {0: "detections"} for output in outputs})
    save(finish(onnx.load_from_string(buffer.getvalue())), name)


def make_ssdlite() -> None:
    torch.manual_seed(SEED)
    net = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=SSDLITE_CLASSES, width_mult=DETECTOR_WIDTH)
    export_detector(net, "ssdlite320_torchvision_ts.onnx", ["boxes", "scores", "labels"])


def make_faster_rcnn() -> None:
    """torchvision's fasterrcnn_mobilenet_v3_large_320_fpn (its builder's backbone extraction, anchors and
    320-pixel defaults) with narrower widths: MobileNetV3-Large at width 0.25, FPN 64 channels, box head 64."""
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor, TwoMLPHead
    from torchvision.models.detection.rpn import AnchorGenerator
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    torch.manual_seed(SEED)
    features = torchvision.models.mobilenet_v3_large(weights=None, width_mult=DETECTOR_WIDTH).features
    stages = [0] + [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)] + [len(features) - 1]
    returned = [len(stages) - 2, len(stages) - 1]  # as torchvision's _mobilenet_extractor(fpn=True)
    backbone = BackboneWithFPN(features, {f"{stages[k]}": str(v) for v, k in enumerate(returned)},
                               [features[stages[i]].out_channels for i in returned], FASTER_RCNN_FPN_CHANNELS,
                               extra_blocks=LastLevelMaxPool())
    anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
    net = FasterRCNN(backbone, rpn_anchor_generator=anchors, min_size=320, max_size=640, rpn_pre_nms_top_n_test=150,
                     rpn_post_nms_top_n_test=150, rpn_score_thresh=0.05,
                     box_head=TwoMLPHead(FASTER_RCNN_FPN_CHANNELS * 7 * 7, FASTER_RCNN_REPRESENTATION),
                     box_predictor=FastRCNNPredictor(FASTER_RCNN_REPRESENTATION, FASTER_RCNN_CLASSES))
    export_detector(net, "faster_rcnn_torchvision_ts.onnx", ["boxes", "labels", "scores"])


MAKERS = {
    "yolov8_dynamic_ultralytics.onnx": make_yolov8_dynamic,
    "yolov8_static_ultralytics.onnx": make_yolov8_static,
    "text_classifier_p2o.onnx": make_text_classifier,
    "depth_vit_ts.onnx": make_depth_ts,
    "depth_vit_dynamo.onnx": make_depth_dynamo,
    "sd_unet_optimum/model.onnx": make_unet,
    "sd_vae_decoder_optimum/model.onnx": make_vae_decoder,
    "sam_optimum/": make_sam,
    "rtdetr_optimum/model.onnx": make_rtdetr,
    "ssdlite320_torchvision_ts.onnx": make_ssdlite,
    "faster_rcnn_torchvision_ts.onnx": make_faster_rcnn,
}


def main(words: list[str]) -> None:
    run_makers(MAKERS, words)


if __name__ == "__main__":
    main(sys.argv[1:])
