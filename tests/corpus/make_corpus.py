"""Generate the corpus of real PyTorch ONNX exports used by the tests (tests/corpus/*.onnx).

Needs torch, which is NOT a dependency of the app or of the tests (the tests only read the committed
.onnx files). Install into a separate virtual environment:

    pip install torch==2.14.1 torchvision==0.29.1 onnxscript onnx

and run from the repository root:

    python tests/corpus/make_corpus.py            # every model
    python tests/corpus/make_corpus.py segmenter  # only the models whose file name contains a word

Every model is exported by ``torch.onnx.export`` itself, with the TorchScript exporter
(``dynamo=False``) or the dynamo exporter (``dynamo=True``), from random weights seeded with
``torch.manual_seed`` (no downloads: torchvision models with ``weights=None, weights_backbone=None``),
so two runs write the same graphs. Widths are small enough that each file stays below 5 MB.

After export each model gets the lowest IR version its opset allows (onnx 1.23 writes IR 14, which
onnxruntime <= 1.30 refuses), and the per-node doc strings / metadata (Python stack traces with local
paths) and the graph's metadata are dropped so the files do not depend on where or when they were
made. Nothing else is changed, except for the two ``*_p2o`` models, see :func:`paddle2onnx_style`.
BatchNorm statistics come from one training-mode pass on random inputs (:func:`calibrate_batchnorm`).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
import torchvision
from onnx import helper
from torch import nn
from torchvision.models.detection._utils import _topk_min

CORPUS = Path(__file__).resolve().parent
SEED = 0
TS_OPSET = 17      # TorchScript exporter; 17 keeps PyTorch's own GroupNorm pattern (GroupNormalization is 18+)
DYNAMO_OPSET = 18  # the dynamo exporter's lowest supported opset
MAX_FILE_BYTES = 5 * 1024 * 1024
DEPLOYED_SAMPLE_RATE = 16000  # the audio model's switch input compares with this value


# --------------------------------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------------------------------

def _all_nodes(model: onnx.ModelProto):
    """Every node of the model: main graph, subgraphs (If/Loop bodies) and local functions."""
    graphs = [model.graph]
    nodes = [node for function in model.functions for node in function.node]
    while graphs:
        graph = graphs.pop()
        nodes.extend(graph.node)
        graphs.extend(helper.get_attribute_value(a) for node in graph.node for a in node.attribute
                      if a.type == onnx.AttributeProto.GRAPH)
    return nodes


def finish(model: onnx.ModelProto) -> onnx.ModelProto:
    """Lowest IR version for the opsets used; drop stack-trace doc strings, node metadata and the
    dynamo exporter's graph metadata (its range constraints are printed in set order: not reproducible)."""
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import), ignore_unknown=True)
    del model.graph.metadata_props[:]
    for node in _all_nodes(model):
        node.doc_string = ""
        del node.metadata_props[:]
    return model


def export_ts(module: nn.Module, args: tuple, input_names, output_names, dynamic_axes) -> onnx.ModelProto:
    buffer = io.BytesIO()
    torch.onnx.export(module, args, buffer, dynamo=False, opset_version=TS_OPSET,
                      input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes)
    return finish(onnx.load_from_string(buffer.getvalue()))


def export_dynamo(module: nn.Module, args: tuple, input_names, output_names, dynamic_shapes) -> onnx.ModelProto:
    program = torch.onnx.export(module, args, dynamo=True, opset_version=DYNAMO_OPSET,
                                input_names=input_names, output_names=output_names,
                                dynamic_shapes=dynamic_shapes, optimize=True)
    return finish(program.model_proto)


def save(model: onnx.ModelProto, name: str) -> Path:
    path = CORPUS / name
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    size = path.stat().st_size
    assert size <= MAX_FILE_BYTES, f"{name} is {size} bytes, more than {MAX_FILE_BYTES}: shrink its widths"
    print(f"wrote {name}: {size / 1e6:.2f} MB")
    return path


def paddle2onnx_style(model: onnx.ModelProto, dim_name: str | None = None) -> onnx.ModelProto:
    """Make a PyTorch export look like paddle2onnx output, as OCR models from PaddleOCR come.

    paddle2onnx writes no initializers: every weight is a ``Constant`` node; its dynamic dimensions
    are named ``p2o.DynamicDimension.0``, ``.1``, … and its nodes ``p2o.<OpType>.<k>``. This does the
    same to the graph (the computation is unchanged): each initializer becomes a ``Constant`` node
    at the top of the graph, each distinct dynamic dimension name of the inputs and outputs is
    renamed in order of appearance, and nodes are renamed by op type and running index. With ``dim_name``
    every dynamic dimension gets that one name instead, as paddle2onnx writes ``?`` for the unknown dims of
    some PaddleOCR models (the classifier's ``x: [?, 3, ?, ?]``).
    """
    graph = model.graph
    constants = [helper.make_node("Constant", [], [init.name], name=init.name, value=init)
                 for init in graph.initializer]
    del graph.initializer[:]
    nodes = constants + list(graph.node)
    del graph.node[:]
    counts: dict[str, int] = {}
    for node in nodes:
        index = counts.get(node.op_type, 0)
        counts[node.op_type] = index + 1
        node.name = f"p2o.{node.op_type}.{index}"
    graph.node.extend(nodes)
    renamed: dict[str, str] = {}
    for value in list(graph.input) + list(graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                dim.dim_param = dim_name or renamed.setdefault(dim.dim_param, f"p2o.DynamicDimension.{len(renamed)}")
    del graph.value_info[:]  # intermediate shapes would still carry the old names
    return model


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def calibrate_batchnorm(module: nn.Module, *inputs: torch.Tensor) -> nn.Module:
    """Set BatchNorm statistics from one forward pass on random inputs, as training would.

    With random weights and default statistics (mean 0, var 1) activations shrink layer by layer
    until the outputs hardly depend on the input (a perturbed copy would compare equal)."""
    for bn in module.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: the statistics of exactly this pass
    module.train()
    with torch.no_grad():
        module(*inputs)
    return module.eval()


# --------------------------------------------------------------------------------------------------
# 1. CNN classifier, TorchScript, dynamic batch
# --------------------------------------------------------------------------------------------------

def make_classifier() -> None:
    torch.manual_seed(SEED)
    net = torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)
    net.classifier[0] = nn.Linear(576, 256)  # the default 576×1024 head alone is 2.4 MB
    net.classifier[3] = nn.Linear(256, 10)
    calibrate_batchnorm(net, torch.randn(8, 3, 224, 224))
    model = export_ts(net, (torch.randn(1, 3, 224, 224),), ["input"], ["logits"],
                      {"input": {0: "batch"}, "logits": {0: "batch"}})
    save(model, "classifier_ts.onnx")


# --------------------------------------------------------------------------------------------------
# 2. Segmenter (encoder/decoder with skip Concat and Resize), dynamo, dynamic batch × H × W
# --------------------------------------------------------------------------------------------------

class TinyUNet(nn.Module):
    """Five stride-2 stages (total stride 32); the decoder upsamples ×2 and concatenates the skip,
    so H and W must be multiples of 32 or the Concat sees different sizes."""

    def __init__(self, widths=(16, 24, 32, 48, 64), classes: int = 5):
        super().__init__()
        self.stem = conv_bn_relu(3, widths[0])
        self.down = nn.ModuleList(conv_bn_relu(a, b, 2) for a, b in zip((widths[0],) + widths[:-1], widths))
        self.up = nn.ModuleList(conv_bn_relu(widths[i] + widths[i - 1], widths[i - 1])
                                for i in range(len(widths) - 1, 0, -1))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x):
        skips = []
        x = self.stem(x)
        for stage in self.down:
            x = stage(x)
            skips.append(x)
        skips.pop()
        for stage in self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = stage(torch.cat([x, skips.pop()], dim=1))
        x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return self.head(x)


def make_segmenter() -> None:
    torch.manual_seed(SEED)
    net = calibrate_batchnorm(TinyUNet(), torch.randn(4, 3, 256, 320))
    batch = torch.export.Dim("batch", min=1, max=64)
    height = 32 * torch.export.Dim("h32", min=1, max=64)
    width = 32 * torch.export.Dim("w32", min=1, max=64)
    model = export_dynamo(net, (torch.randn(2, 3, 256, 320),), ["image"], ["mask_logits"],
                          {"x": {0: batch, 2: height, 3: width}})
    save(model, "segmenter_dynamo.onnx")


# --------------------------------------------------------------------------------------------------
# 3. DBNet-like text detector, TorchScript, paddle2onnx style
# --------------------------------------------------------------------------------------------------

class TinyDBNet(nn.Module):
    """Backbone at strides 4, 8, 16, 32; FPN top-down with ×2 upsample + Add, all levels upsampled
    to stride 4 and concatenated; a head with two transposed convolutions back to full size."""

    def __init__(self, widths=(16, 24, 40, 64), inner: int = 32):
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(3, 16, 2), conv_bn_relu(16, widths[0], 2))
        self.stages = nn.ModuleList(conv_bn_relu(a, b, 2) for a, b in zip(widths[:-1], widths[1:]))
        self.lateral = nn.ModuleList(nn.Conv2d(w, inner, 1, bias=False) for w in widths)
        self.smooth = nn.ModuleList(nn.Conv2d(inner, inner // 4, 3, padding=1, bias=False) for _ in widths)
        self.head = nn.Sequential(
            conv_bn_relu(inner, inner // 4),
            nn.ConvTranspose2d(inner // 4, inner // 4, 2, 2), nn.BatchNorm2d(inner // 4), nn.ReLU(),
            nn.ConvTranspose2d(inner // 4, 1, 2, 2), nn.Sigmoid())

    def forward(self, x):
        features = [self.stem(x)]
        for stage in self.stages:
            features.append(stage(features[-1]))
        laterals = [conv(f) for conv, f in zip(self.lateral, features)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(laterals[i], scale_factor=2.0, mode="nearest")
        outs = [smooth(lat) for smooth, lat in zip(self.smooth, laterals)]
        outs = [outs[0]] + [F.interpolate(o, scale_factor=2.0 ** i, mode="nearest") for i, o in enumerate(outs[1:], 1)]
        return self.head(torch.cat(outs, dim=1))


def make_text_detector() -> None:
    torch.manual_seed(SEED)
    net = calibrate_batchnorm(TinyDBNet(), torch.randn(4, 3, 320, 320))
    model = export_ts(net, (torch.randn(1, 3, 640, 640),), ["x"], ["sigmoid_0.tmp_0"],
                      {"x": {0: "N", 2: "H", 3: "W"}, "sigmoid_0.tmp_0": {0: "N", 2: "H", 3: "W"}})
    save(paddle2onnx_style(model), "text_detector_p2o.onnx")


# --------------------------------------------------------------------------------------------------
# 4. CRNN-like text recognizer, TorchScript, paddle2onnx style
# --------------------------------------------------------------------------------------------------

REC_HEIGHT = 48
REC_CLASSES = 97


class TinyCRNN(nn.Module):
    """Conv stack: H / 16 (48 → 3), W / 4; the collapsed height × channels (3 × 32 = 96) feeds an
    LSTM of fixed input size, so only H = 48 runs; then a Linear to the character classes."""

    def __init__(self, channels: int = 32, hidden: int = 48):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_relu(3, 16), nn.MaxPool2d(2, 2),                   # H/2,  W/2
            conv_bn_relu(16, 24), nn.MaxPool2d(2, 2),                  # H/4,  W/4
            conv_bn_relu(24, 32), nn.MaxPool2d((2, 1), (2, 1)),        # H/8,  W/4
            conv_bn_relu(32, channels), nn.MaxPool2d((2, 1), (2, 1)))  # H/16, W/4
        self.rnn = nn.LSTM(channels * REC_HEIGHT // 16, hidden, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, REC_CLASSES)

    def forward(self, x):
        f = self.features(x)                    # N, C, H/16, W/4
        f = f.permute(0, 3, 1, 2).flatten(2)     # N, W/4, C·H/16
        seq, _ = self.rnn(f)
        return self.fc(seq).softmax(dim=2)


def make_text_recognizer() -> None:
    torch.manual_seed(SEED)
    net = calibrate_batchnorm(TinyCRNN(), torch.randn(8, 3, REC_HEIGHT, 320))
    model = export_ts(net, (torch.randn(1, 3, REC_HEIGHT, 320),), ["x"], ["softmax_2.tmp_0"],
                      {"x": {0: "N", 2: "H", 3: "W"}, "softmax_2.tmp_0": {0: "N", 1: "T"}})
    save(paddle2onnx_style(model), "text_recognizer_p2o.onnx")


# --------------------------------------------------------------------------------------------------
# 5. Detector with real post-processing (decode, threshold, NMS, TopK), TorchScript
# --------------------------------------------------------------------------------------------------

DET_CLASSES = 4
DET_STRIDE = 16
DET_SCORE_THRESHOLD = 0.05
DET_MAX_DETECTIONS = 100


class TinyDetector(nn.Module):
    """Anchor-free single-level detector: one box (l, t, r, b distances) and class scores per cell
    of the stride-16 feature map; boxes decoded from the cell grid, scores thresholded (NonZero),
    batched NMS (NonMaxSuppression), the best DET_MAX_DETECTIONS kept (TopK + Gather)."""

    def __init__(self, width: int = 32):
        super().__init__()
        self.backbone = nn.Sequential(conv_bn_relu(3, 16, 2), conv_bn_relu(16, 24, 2),
                                      conv_bn_relu(24, width, 2), conv_bn_relu(width, width, 2))
        self.box_head = nn.Conv2d(width, 4, 3, padding=1)
        self.cls_head = nn.Conv2d(width, DET_CLASSES, 3, padding=1)

    def forward(self, image):
        feature = self.backbone(image)
        box_raw = self.box_head(feature)      # 1, 4, h, w  (the raw outputs a cut should keep)
        cls_raw = self.cls_head(feature)      # 1, C, h, w
        h, w = feature.shape[2], feature.shape[3]
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) * DET_STRIDE
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) * DET_STRIDE
        cy, cx = torch.meshgrid(ys, xs, indexing="ij")
        centers = torch.stack([cx, cy, cx, cy], dim=-1).reshape(-1, 4)
        distances = F.softplus(box_raw[0]).permute(1, 2, 0).reshape(-1, 4) * DET_STRIDE
        boxes = centers + distances * torch.tensor([-1.0, -1.0, 1.0, 1.0])
        scores, labels = cls_raw[0].sigmoid().permute(1, 2, 0).reshape(-1, DET_CLASSES).max(dim=1)
        keep = torch.where(scores > DET_SCORE_THRESHOLD)[0]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = torchvision.ops.batched_nms(boxes, scores, labels, 0.5)
        scores = scores[keep]
        # torchvision's own helper: k = min(100, count) as a tensor, so the trace does not bake the count
        top = scores.topk(_topk_min(scores, DET_MAX_DETECTIONS, 0)).indices
        return boxes[keep][top], scores[top], labels[keep][top]


def make_detector() -> None:
    torch.manual_seed(SEED)
    net = calibrate_batchnorm(TinyDetector(), torch.randn(1, 3, 320, 320))
    model = export_ts(net, (torch.randn(1, 3, 320, 320),), ["image"], ["boxes", "scores", "labels"],
                      {"image": {2: "height", 3: "width"}, "boxes": {0: "detections"},
                       "scores": {0: "detections"}, "labels": {0: "detections"}})
    save(model, "detector_nms_ts.onnx")


def make_ssdlite(path: Path, num_classes: int = 3) -> Path:
    """torchvision's SSDlite320 (MobileNetV3-Large), random weights, TorchScript export of one image
    [3, height, width] (the model resizes to 320×320 itself). About 9 MB at num_classes=3, too large
    to commit (its width is not adjustable through the builder): benchmarks call this at run time to
    get a full torchvision detection export (NonZero ×4, GatherND, TopK, NonMaxSuppression in an If)."""
    torch.manual_seed(SEED)
    net = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes).eval()
    path = Path(path)
    torch.onnx.export(net, ([torch.rand(3, 320, 320)],), str(path), dynamo=False, opset_version=TS_OPSET,
                      input_names=["images"], output_names=["boxes", "scores", "labels"],
                      dynamic_axes={"images": {1: "height", 2: "width"}, "boxes": {0: "detections"},
                                    "scores": {0: "detections"}, "labels": {0: "detections"}})
    onnx.save(finish(onnx.load(str(path))), str(path))
    return path


def make_resnet50(path: Path) -> Path:
    """torchvision ResNet-50 (random weights, about 100 MB), TorchScript export with dynamic batch ×
    height × width: a full-size model for benchmarks, made at run time, never committed."""
    torch.manual_seed(SEED)
    net = torchvision.models.resnet50(weights=None).eval()
    model = export_ts(net, (torch.randn(1, 3, 224, 224),), ["input"], ["logits"],
                      {"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    onnx.save(model, str(path))
    return Path(path)


# --------------------------------------------------------------------------------------------------
# 6 / 7. Transformer encoder, dynamo (dynamic) and TorchScript (seq baked at 64)
# --------------------------------------------------------------------------------------------------

D_MODEL = 256
BAKED_SEQ = 64


def transformer_encoder() -> nn.Module:
    torch.manual_seed(SEED)
    layer = nn.TransformerEncoderLayer(D_MODEL, nhead=8, dim_feedforward=512, batch_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    for name, parameter in encoder.named_parameters():  # the layers are deep copies of one: make them differ
        if parameter.dim() > 1:
            nn.init.xavier_uniform_(parameter)
        elif name.endswith("bias"):
            nn.init.uniform_(parameter, -0.05, 0.05)
    return encoder.eval()


def make_transformer_dynamo() -> None:
    batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=2, max=4096)
    model = export_dynamo(transformer_encoder(), (torch.randn(2, 32, D_MODEL),), ["tokens"], ["encoded"],
                          {"src": {0: batch, 1: seq}})
    save(model, "transformer_dynamo.onnx")


def make_transformer_ts() -> None:
    model = export_ts(transformer_encoder(), (torch.randn(1, BAKED_SEQ, D_MODEL),), ["tokens"], ["encoded"],
                      {"tokens": {0: "batch", 1: "seq"}, "encoded": {0: "batch", 1: "seq"}})
    save(model, "transformer_ts_seq64.onnx")


# --------------------------------------------------------------------------------------------------
# 8. Audio model with a sample-rate switch (If), reflect padding and a GRU state, TorchScript
# --------------------------------------------------------------------------------------------------

N_FFT = 400
HOP = 160
AUDIO_BINS = 64
AUDIO_HIDDEN = 64
AUDIO_LAYERS = 2
AUDIO_CLASSES = 12


@torch.jit.script
def resample_to_16k(audio: torch.Tensor, sample_rate: torch.Tensor) -> torch.Tensor:
    """Linear resampling to 16 kHz when the input comes at another rate (a real ONNX If)."""
    if bool(sample_rate != 16000):
        samples = audio.shape[1] * 16000 // int(sample_rate)
        audio = F.interpolate(audio.unsqueeze(1), size=[samples], mode="linear", align_corners=False).squeeze(1)
    return audio


class AudioClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.frames = nn.Conv1d(1, AUDIO_BINS, N_FFT, HOP, bias=False)  # STFT-like framing
        self.norm = nn.BatchNorm1d(AUDIO_BINS)
        self.gru = nn.GRU(AUDIO_BINS, AUDIO_HIDDEN, AUDIO_LAYERS, batch_first=True)
        self.fc = nn.Linear(AUDIO_HIDDEN, AUDIO_CLASSES)

    def forward(self, audio, sample_rate, state):
        return self.classify(resample_to_16k(audio, sample_rate), state)

    def classify(self, audio, state):
        padded = F.pad(audio.unsqueeze(1), (N_FFT // 2, N_FFT // 2), mode="reflect")
        spectrum = torch.log1p(self.frames(padded).abs())
        features = self.norm(spectrum).transpose(1, 2)  # batch, frames, bins
        sequence, new_state = self.gru(features, state)
        return self.fc(sequence), new_state


def export_audio(net: nn.Module, name: str) -> None:
    rate = torch.tensor(DEPLOYED_SAMPLE_RATE, dtype=torch.int64)
    net = calibrate_batchnorm(net, torch.randn(4, DEPLOYED_SAMPLE_RATE), rate,
                              torch.zeros(AUDIO_LAYERS, 4, AUDIO_HIDDEN))
    args = (torch.randn(1, DEPLOYED_SAMPLE_RATE), rate, torch.zeros(AUDIO_LAYERS, 1, AUDIO_HIDDEN))
    model = export_ts(net, args, ["audio", "sample_rate", "state"], ["logits", "new_state"],
                      {"audio": {0: "batch", 1: "samples"}, "state": {1: "batch"},
                       "logits": {0: "batch", 1: "frames"}, "new_state": {1: "batch"}})
    save(model, name)


def make_audio() -> None:
    torch.manual_seed(SEED)
    export_audio(AudioClassifier(), "audio_switch_ts.onnx")


@torch.jit.script
def resample_to_16k_with_gain(audio: torch.Tensor, sample_rate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``resample_to_16k``, and a loudness gain for the new rate: an If with two outputs, one of
    them a constant in the branch taken at 16 kHz (onnx-graphsurgeon's If flattening loses such outputs)."""
    if bool(sample_rate != 16000):
        samples = audio.shape[1] * 16000 // int(sample_rate)
        audio = F.interpolate(audio.unsqueeze(1), size=[samples], mode="linear", align_corners=False).squeeze(1)
        gain = torch.sqrt(sample_rate.float() / 16000.0).reshape(1)
    else:
        gain = torch.ones(1)
    return audio, gain


class AudioClassifierWithGain(AudioClassifier):
    def forward(self, audio, sample_rate, state):
        audio, gain = resample_to_16k_with_gain(audio, sample_rate)
        return self.classify(audio * gain, state)


def make_audio_gain() -> None:
    torch.manual_seed(SEED)
    export_audio(AudioClassifierWithGain(), "audio_gain_switch_ts.onnx")


# --------------------------------------------------------------------------------------------------
# 9. PyTorch's own GroupNorm export, TorchScript, opset 17
# --------------------------------------------------------------------------------------------------

def make_groupnorm() -> None:
    torch.manual_seed(SEED)
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.GroupNorm(8, 32), nn.SiLU(),
                        nn.Conv2d(32, 32, 3, padding=1), nn.GroupNorm(8, 32), nn.SiLU(),
                        nn.Conv2d(32, 8, 1))
    for norm in net:
        if isinstance(norm, nn.GroupNorm):  # non-trivial affine parameters
            norm.weight.data.uniform_(0.5, 1.5)
            norm.bias.data.uniform_(-0.2, 0.2)
    model = export_ts(net.eval(), (torch.randn(1, 3, 64, 64),), ["input"], ["output"],
                      {"input": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "height", 3: "width"}})
    save(model, "groupnorm_ts.onnx")


# --------------------------------------------------------------------------------------------------
# 10. GRU with an explicit initial state, dynamo, dynamic batch × seq
# --------------------------------------------------------------------------------------------------

class StatefulGRU(nn.Module):
    def __init__(self, features: int = 40, hidden: int = 96, layers: int = 2, classes: int = 20):
        super().__init__()
        self.gru = nn.GRU(features, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, features, state):
        sequence, new_state = self.gru(features, state)
        return self.fc(sequence), new_state


def make_gru_dynamo() -> None:
    torch.manual_seed(SEED)
    batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=2, max=4096)
    model = export_dynamo(StatefulGRU().eval(), (torch.randn(2, 50, 40), torch.zeros(2, 2, 96)),
                          ["features", "state"], ["logits", "new_state"],
                          {"features": {0: batch, 1: seq}, "state": {1: batch}})
    save(model, "gru_state_dynamo.onnx")


# --------------------------------------------------------------------------------------------------
# 11. If on a scalar input with torch.cond, dynamo
# --------------------------------------------------------------------------------------------------

class ModeSwitch(nn.Module):
    """``mode`` > 0 selects the refined branch (two convolutions), else the fast one (one)."""

    def __init__(self):
        super().__init__()
        self.fast = nn.Conv2d(3, 16, 3, padding=1)
        self.refine = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1))

    def forward(self, x, mode):
        return torch.cond(mode > 0, lambda t: self.refine(t), lambda t: self.fast(t), (x,))


def make_if_cond_dynamo() -> None:
    torch.manual_seed(SEED)
    batch = torch.export.Dim("batch", min=1, max=64)
    model = export_dynamo(ModeSwitch().eval(), (torch.randn(2, 3, 64, 64), torch.tensor(1, dtype=torch.int64)),
                          ["x", "mode"], ["y"], {"x": {0: batch}, "mode": None})
    save(model, "if_cond_dynamo.onnx")


# --------------------------------------------------------------------------------------------------
# 12. Weights in an external data file, TorchScript, dynamic batch
# --------------------------------------------------------------------------------------------------

def make_external_data() -> None:
    torch.manual_seed(SEED)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 256), nn.ReLU(), nn.Linear(256, 10)).eval()
    model = export_ts(net, (torch.randn(1, 3, 32, 32),), ["image"], ["logits"],
                      {"image": {0: "batch"}, "logits": {0: "batch"}})
    folder = CORPUS / "external_data"
    folder.mkdir(exist_ok=True)
    data = folder / "mlp_external.onnx.data"
    data.unlink(missing_ok=True)  # onnx.save appends to an existing data file
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(folder / "mlp_external.onnx"), save_as_external_data=True,
              all_tensors_to_one_file=True, location=data.name, size_threshold=0)
    print("wrote external_data/mlp_external.onnx (+ .data)")


# --------------------------------------------------------------------------------------------------
# An op TensorRT-RTX cannot take in the middle of a CNN (split execution gives three parts)
# --------------------------------------------------------------------------------------------------

class MidNonZeroNet(nn.Module):
    """Backbone convs, then the share of active feature cells counted with ``torch.nonzero`` (NonZero:
    no importer in TensorRT-RTX) normalising the features, then head convs that TensorRT takes again."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.backbone = nn.Sequential(conv_bn_relu(3, width, 2), conv_bn_relu(width, width, 2))
        self.head = nn.Sequential(conv_bn_relu(width, width), nn.Conv2d(width, 4, 1))

    def forward(self, image):
        feature = self.backbone(image)
        active = torch.nonzero(feature.mean(dim=1) > 0.5).shape[0]
        scale = 1.0 / (active / feature[0, 0].numel() + 1.0)
        return self.head(feature * scale)


def make_mid_nonzero() -> None:
    torch.manual_seed(SEED)
    net = calibrate_batchnorm(MidNonZeroNet(), torch.randn(1, 3, 64, 64))
    model = export_ts(net, (torch.randn(1, 3, 64, 64),), ["image"], ["maps"], {})
    save(model, "mid_nonzero_ts.onnx")


# --------------------------------------------------------------------------------------------------
# 14. An embedding head with a hand-written L2 normalization over large activations, TorchScript
# --------------------------------------------------------------------------------------------------

class L2Embedding(nn.Module):
    """Conv features → Linear to 128 with weights ×1000 (activations ~1e2 to 1e3 on inputs in [0, 1))
    → h / sqrt(sum(h * h)).

    The sum of squares (~1e7) overflows float16 (max 65504): FP16 conversion breaks it unless the
    square, the sum and the square root stay FP32.
    """

    def __init__(self, gain: float = 1000.0):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.project = nn.Linear(32, 128)
        self.project.weight.data.mul_(gain)

    def forward(self, image):
        h = self.project(self.features(image))
        return h / torch.sqrt((h * h).sum(dim=1, keepdim=True))


def make_l2_embedding() -> None:
    torch.manual_seed(SEED)
    model = export_ts(L2Embedding().eval(), (torch.rand(1, 3, 64, 64) * 255,), ["image"], ["embedding"],
                      {"image": {0: "batch"}, "embedding": {0: "batch"}})
    save(model, "l2_embedding_ts.onnx")


class SensorCentering(nn.Module):
    """Raw sensor readings around a large DC level (4096 counts) → subtract the per-row mean → Linear.

    The centred values (a few counts) are the small difference of two ~4096 magnitudes: bfloat16 (8-bit
    mantissa, spacing 32 at 4096) rounds them away, so BF16 conversion breaks it unless the mean and the
    subtraction stay FP32.
    """

    def __init__(self, level: float = 4096.0, channels: int = 32):
        super().__init__()
        self.register_buffer("level", torch.full((1, channels), level))
        self.head = nn.Linear(channels, 8)

    def forward(self, readings):
        raw = readings + self.level
        return self.head(raw - raw.mean(dim=1, keepdim=True))


def make_sensor_centering() -> None:
    torch.manual_seed(SEED)
    model = export_ts(SensorCentering().eval(), (torch.randn(1, 32) * 4,), ["readings"], ["features"],
                      {"readings": {0: "batch"}, "features": {0: "batch"}})
    save(model, "sensor_centering_ts.onnx")


# --------------------------------------------------------------------------------------------------
# A float scale input that sizes the output: TorchScript, opset 17
# --------------------------------------------------------------------------------------------------

DEPLOYED_ZOOM = 0.5  # the scale the zoom model is run with


@torch.jit.script
def zoom(image: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Resize by a run-time float factor: the output size is computed from ``scale`` (a float scalar input)."""
    size = [int(image.shape[2] * float(scale)), int(image.shape[3] * float(scale))]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False)


class ZoomNet(nn.Module):
    """A conv stem, a zoom by the ``scale`` input, a conv head: a preview / thumbnail pipeline's resolution knob."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 4, 3, padding=1)

    def forward(self, image, scale):
        return self.head(torch.relu(zoom(self.stem(image), scale)))


def make_zoom_scale() -> None:
    torch.manual_seed(SEED)
    args = (torch.randn(1, 3, 64, 64), torch.tensor(DEPLOYED_ZOOM))
    model = export_ts(ZoomNet().eval(), args, ["image", "scale"], ["zoomed"],
                      {"image": {0: "batch", 2: "height", 3: "width"},
                       "zoomed": {0: "batch", 2: "zoomed_height", 3: "zoomed_width"}})
    save(model, "zoom_scale_ts.onnx")


MAKERS = {
    "classifier_ts.onnx": make_classifier,
    "segmenter_dynamo.onnx": make_segmenter,
    "text_detector_p2o.onnx": make_text_detector,
    "text_recognizer_p2o.onnx": make_text_recognizer,
    "detector_nms_ts.onnx": make_detector,
    "transformer_dynamo.onnx": make_transformer_dynamo,
    "transformer_ts_seq64.onnx": make_transformer_ts,
    "audio_switch_ts.onnx": make_audio,
    "audio_gain_switch_ts.onnx": make_audio_gain,
    "groupnorm_ts.onnx": make_groupnorm,
    "gru_state_dynamo.onnx": make_gru_dynamo,
    "if_cond_dynamo.onnx": make_if_cond_dynamo,
    "external_data/mlp_external.onnx": make_external_data,
    "mid_nonzero_ts.onnx": make_mid_nonzero,
    "l2_embedding_ts.onnx": make_l2_embedding,
    "sensor_centering_ts.onnx": make_sensor_centering,
    "zoom_scale_ts.onnx": make_zoom_scale,
}


def run_makers(makers: dict, words: list[str]) -> None:
    """Every maker whose file name contains one of ``words`` (all of them without words), single-threaded:
    multithreaded reductions (BatchNorm calibration) differ in the last bits from run to run."""
    torch.set_num_threads(1)
    for name, make in makers.items():
        if not words or any(word in name for word in words):
            make()


def main(words: list[str]) -> None:
    run_makers(MAKERS, words)


if __name__ == "__main__":
    main(sys.argv[1:])
