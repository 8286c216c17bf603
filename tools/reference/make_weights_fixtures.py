"""Writes the weight-loading fixtures of tests/model/ into tests/fixtures/model/.

Run with Debian's interpreter (torch 1.13, torchvision 0.14), from the repository root:

    /usr/bin/python3 tools/reference/make_weights_fixtures.py

Outputs (all written by real torch / torchvision, except the .safetensors, written by `write_safetensors`
below because the safetensors package is not installed):
  names.json                    key + shape lists of torchvision models (full-size ones: names only, no weights)
  small_subset.pth              torch.save (zip) of the "small" demo model's tensors with <= SUBSET_MAX values
  small_subset_v1names.pth      the same under the old (version-1) torchvision names, entries deflated
  small_mixed.pth               f16 / bf16 / f64 / i64 tensors, non-contiguous views and shared storages
  small_legacy.pth              a few tensors in the legacy (non-zip) torch.save format, old names and a view
  small_subset.safetensors      the subset with a few tensors as F16 / BF16, plus an I64 tensor
  forbidden_global.pth          a torch zip whose data.pkl (protocol 2) calls os.system via GLOBAL
  forbidden_stack_global.pth    the same with protocol 4 (STACK_GLOBAL posix.system)
  configs.json                  MaskRcnnConfig fields read back from built torchvision models, COCO names
  checksums.json                per file and tensor: shape, float64 sum / abs-sum / sum of squares, samples

The small model is ~4.3 M values (~17 MB): the Bottleneck expansion keeps layer4's 1024->2048 downsample
conv. Only tensors of <= SUBSET_MAX values are stored (every name family is covered); names.json lists
all keys, so tests can check which are absent.
"""
import inspect
import json
import os
import pickle
import pickletools
import re
import struct
import tempfile
import zipfile
from collections import OrderedDict

import torch
import torchvision
from torch import nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN, resnet_fpn_backbone
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNN, MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops import misc as misc_nn_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

OUT = "tests/fixtures/model"
SEED = 20240607
SUBSET_MAX = 20000
FIXED_TIME = (2020, 1, 1, 0, 0, 0)  # zip entry times, for reproducible bytes
assert torch.__version__.startswith("1.13") and torchvision.__version__.startswith("0.14"), "use /usr/bin/python3"


def small_model():
    """The "small" preset: ResNet [1,1,1,1] Bottlenecks, width_per_group 16, FrozenBN; FPN 64; 4 classes."""
    body = ResNet(Bottleneck, [1, 1, 1, 1], width_per_group=16, norm_layer=misc_nn_ops.FrozenBatchNorm2d)
    # _resnet_fpn_extractor hard-codes out_channels=256, so build its BackboneWithFPN by hand.
    in_stage2 = body.inplanes // 8
    backbone = BackboneWithFPN(
        body,
        {f"layer{k}": str(k - 1) for k in [1, 2, 3, 4]},
        [in_stage2 * 2 ** (i - 1) for i in [1, 2, 3, 4]],
        64,
        extra_blocks=LastLevelMaxPool(),
    )
    return MaskRCNN(
        backbone,
        num_classes=None,
        min_size=128,
        max_size=128,
        box_head=TwoMLPHead(64 * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, 4),
        mask_head=MaskRCNNHeads(64, [64, 64], 1),
        mask_predictor=MaskRCNNPredictor(64, 64, 4),
    )


def randomise(model):
    """Seeded random values everywhere, with non-trivial FrozenBN statistics (positive running_var)."""
    g = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) * 1.5 + 0.5)
            elif name.endswith("num_batches_tracked"):
                continue
            elif ".bn" in name or ".downsample.1." in name:  # FrozenBN weight / bias / running_mean
                base = 1.0 if name.endswith(".weight") else 0.0
                t.copy_(base + torch.randn(t.shape, generator=g) * 0.2)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)


def config_of(model):
    """Reads MaskRcnnConfig's fields back from an instantiated torchvision model (not from our defaults)."""
    rpn, roi, tf = model.rpn, model.roi_heads, model.transform
    body = model.backbone.body
    mask = getattr(roi, "mask_head", None)
    first_block = lambda layer: getattr(body, layer)[0]  # noqa: E731
    return {
        "numClasses": roi.box_predictor.cls_score.out_features,
        "minSize": tf.min_size[0],
        "maxSize": tf.max_size,
        "imageMean": tf.image_mean,
        "imageStd": tf.image_std,
        "anchorSizes": [list(s) for s in rpn.anchor_generator.sizes],
        "aspectRatios": [list(r) for r in rpn.anchor_generator.aspect_ratios],
        "rpnPreNmsTopNTrain": rpn._pre_nms_top_n["training"],
        "rpnPreNmsTopNTest": rpn._pre_nms_top_n["testing"],
        "rpnPostNmsTopNTrain": rpn._post_nms_top_n["training"],
        "rpnPostNmsTopNTest": rpn._post_nms_top_n["testing"],
        "rpnNmsThresh": rpn.nms_thresh,
        "rpnFgIouThresh": rpn.proposal_matcher.high_threshold,
        "rpnBgIouThresh": rpn.proposal_matcher.low_threshold,
        "rpnBatchSizePerImage": rpn.fg_bg_sampler.batch_size_per_image,
        "rpnPositiveFraction": rpn.fg_bg_sampler.positive_fraction,
        "rpnScoreThresh": rpn.score_thresh,
        "boxScoreThresh": roi.score_thresh,
        "boxNmsThresh": roi.nms_thresh,
        "boxDetectionsPerImg": roi.detections_per_img,
        "boxFgIouThresh": roi.proposal_matcher.high_threshold,
        "boxBgIouThresh": roi.proposal_matcher.low_threshold,
        "boxBatchSizePerImage": roi.fg_bg_sampler.batch_size_per_image,
        "boxPositiveFraction": roi.fg_bg_sampler.positive_fraction,
        "backbone": {
            "blocks": [len(getattr(body, f"layer{i}")) for i in range(1, 5)],
            # conv1 of layer1's first block has width = 64 * width_per_group / 64 channels
            "widthPerGroup": first_block("layer1").conv1.out_channels,
        },
        "fpnChannels": model.backbone.out_channels,
        "boxHeadDim": roi.box_head.fc7.out_features,
        "maskHeadLayers": [blk[0].out_channels for blk in mask] if mask is not None else None,
        "maskPredictorChannels": roi.mask_predictor.conv5_mask.out_channels if mask is not None else None,
        "maskHead": mask is not None,
        "trainableBackboneLayers": None,
    }


def builder_config(builder):
    """config_of the builder's model; trainableBackboneLayers is the default the builder passes to
    _validate_trainable_layers (it only applies with pretrained weights, so it is read from the source)."""
    config = config_of(builder(weights=None, weights_backbone=None))
    found = re.search(r"_validate_trainable_layers\(is_trained, trainable_backbone_layers, 5, (\d)\)", inspect.getsource(builder))
    config["trainableBackboneLayers"] = int(found.group(1))
    return config


def key_list(state_dict):
    return [[k, list(v.shape)] for k, v in state_dict.items()]


# The version-upgrade hooks of torchvision 0.14 (feature_pyramid_network.py, rpn.py, mask_rcnn.py), inverted.
def old_name(name):
    parts = name.split(".")
    if name.startswith(("backbone.fpn.inner_blocks.", "backbone.fpn.layer_blocks.")) and parts[4] == "0":
        return ".".join(parts[:4] + parts[5:])
    if name.startswith("rpn.head.conv.0.0."):
        return "rpn.head.conv." + parts[-1]
    if name.startswith("roi_heads.mask_head."):
        return f"roi_heads.mask_head.mask_fcn{int(parts[2]) + 1}.{parts[-1]}"
    return name


def as_old_names(state_dict):
    """An OrderedDict without _metadata (version None), so torchvision's load hooks rename on load."""
    return OrderedDict((old_name(k), v) for k, v in state_dict.items())


def assert_old_names_load(make_model, state_dict, subset=False):
    """torchvision's own hooks must map every old name onto a 0.14 name (no unexpected keys)."""
    model = make_model()
    result = model.load_state_dict(as_old_names(state_dict), strict=not subset)
    assert not result.unexpected_keys, result.unexpected_keys
    loaded = model.state_dict()
    for k, v in state_dict.items():
        assert torch.equal(loaded[k], v), k


def checksum(t, generator):
    t = t.detach()
    x = t.double().reshape(-1)
    n = x.numel()
    picks = sorted({0, n - 1, *torch.randint(0, n, (3,), generator=generator).tolist()})
    return {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "sum": x.sum().item(),
        "abs_sum": x.abs().sum().item(),
        "sum_sq": (x * x).sum().item(),
        "samples": [[i, x[i].item()] for i in picks],
    }


def checksums_of(path):
    """Checksums of what real torch loads back from `path` (so the file, not our intent, is the reference)."""
    if path.endswith(".safetensors"):
        return None
    loaded = torch.load(os.path.join(OUT, path))
    g = torch.Generator().manual_seed(1)
    return {k: checksum(v, g) for k, v in loaded.items()}


def write_safetensors(path, tensors):
    """Minimal safetensors writer: header JSON (space-padded to 8 bytes), then the little-endian data."""
    codes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}
    header, blobs, offset = {"__metadata__": {"format": "pt", "writer": "make_weights_fixtures.py"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def deflate_zip(src, dst):
    """Re-packs a torch zip with every entry deflated (torch itself writes stored entries)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(zipfile.ZipInfo(info.filename, date_time=FIXED_TIME), zin.read(info.filename), zipfile.ZIP_DEFLATED)


def forbidden(path, data_pkl):
    """A torch-zip layout whose data.pkl would run a command if unpickled by Python."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo("archive/data.pkl", date_time=FIXED_TIME), data_pkl)
        z.writestr(zipfile.ZipInfo("archive/version", date_time=FIXED_TIME), "3\n")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/maskrcnn_fixture_pwned",))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(SEED)
    model = small_model()
    randomise(model)
    full = model.state_dict()
    subset = OrderedDict((k, v) for k, v in full.items() if v.numel() <= SUBSET_MAX)
    subset._metadata = full._metadata  # module versions, pickled by BUILD as in a real state_dict
    assert_old_names_load(small_model, full)

    r50 = torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    r50_sd = r50.state_dict()
    assert_old_names_load(
        lambda: torchvision.models.detection.maskrcnn_resnet50_fpn(weights=None, weights_backbone=None), r50_sd
    )
    faster = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    r101 = MaskRCNN(resnet_fpn_backbone(backbone_name="resnet101", weights=None, trainable_layers=3), num_classes=91)
    from torchvision.models._meta import _COCO_CATEGORIES

    configs = {
        "comment": "MaskRcnnConfig fields read back from instantiated torchvision 0.14 models",
        "maskrcnn_resnet50_fpn": builder_config(torchvision.models.detection.maskrcnn_resnet50_fpn),
        "fasterrcnn_resnet50_fpn": builder_config(torchvision.models.detection.fasterrcnn_resnet50_fpn),
        "small": config_of(model),
        "coco_categories": _COCO_CATEGORIES,
    }
    with open(os.path.join(OUT, "configs.json"), "w") as f:
        json.dump(configs, f, indent=1)

    names = {
        "comment": "torchvision 0.14 state_dict keys and shapes; the full-size models use nn.BatchNorm2d "
        "(weights=None), so they include num_batches_tracked, which FrozenBatchNorm2d does not have.",
        "small": key_list(full),
        "maskrcnn_resnet50_fpn": key_list(r50_sd),
        "maskrcnn_resnet50_fpn_v1_names": [[old_name(k), s] for k, s in key_list(r50_sd)],
        "fasterrcnn_resnet50_fpn": key_list(faster.state_dict()),
        "maskrcnn_resnet101_fpn": key_list(r101.state_dict()),
        "small_subset_max_numel": SUBSET_MAX,
        "small_subset_v1_to_v2": {old_name(k): k for k in subset},
    }
    with open(os.path.join(OUT, "names.json"), "w") as f:
        json.dump(names, f)

    torch.save(subset, os.path.join(OUT, "small_subset.pth"))
    with tempfile.TemporaryDirectory() as tmp:  # the zip's folder prefix is the file's stem
        stored = os.path.join(tmp, "small_subset_v1names.pth")
        torch.save(as_old_names(subset), stored)
        deflate_zip(stored, os.path.join(OUT, "small_subset_v1names.pth"))

    fc7 = full["roi_heads.box_head.fc7.weight"]  # [128, 128]
    base = full["backbone.body.layer1.0.conv2.weight"].clone()  # [16, 16, 3, 3]
    flat = base.view(-1)
    mixed = OrderedDict(
        [
            ("roi_heads.box_head.fc7.weight", fc7.half()),
            ("rpn.head.cls_logits.weight", full["rpn.head.cls_logits.weight"].bfloat16()),
            ("backbone.body.bn1.running_var", full["backbone.body.bn1.running_var"].double()),
            ("transposed", fc7.t()),  # stride (1, 128)
            ("strided_slice", fc7[3:40:3, 1::2]),  # offset 385, stride (384, 2)
            ("base", base),
            ("offset_view", flat[100:300].view(10, 20)),  # shares base's storage at offset 100
            ("expanded", full["backbone.body.bn1.weight"][:8].unsqueeze(0).expand(3, 8)),  # stride (0, 1)
            ("steps", torch.arange(-3, 12, dtype=torch.int64) * 1000003),
            ("backbone.body.bn1.num_batches_tracked", torch.tensor(7, dtype=torch.int64)),
        ]
    )
    torch.save(mixed, os.path.join(OUT, "small_mixed.pth"))

    legacy = OrderedDict((old_name(k), full[k]) for k in ["rpn.head.conv.0.0.bias", "roi_heads.mask_head.1.0.bias"])
    legacy["backbone.fpn.layer_blocks.2.weight"] = full["backbone.fpn.layer_blocks.2.0.weight"]
    legacy["half"] = full["backbone.fpn.inner_blocks.0.0.bias"].half()
    legacy["offset_view"] = flat[100:300].view(10, 20)
    legacy["transposed"] = fc7[:8, :16].t()
    torch.save(legacy, os.path.join(OUT, "small_legacy.pth"), _use_new_zipfile_serialization=False)

    st = OrderedDict(subset)
    st["roi_heads.mask_predictor.conv5_mask.weight"] = st["roi_heads.mask_predictor.conv5_mask.weight"].half()
    st["rpn.head.bbox_pred.weight"] = st["rpn.head.bbox_pred.weight"].bfloat16()
    st["steps"] = mixed["steps"]
    write_safetensors(os.path.join(OUT, "small_subset.safetensors"), st)

    evil = _Evil()
    command = b"echo pwned > /tmp/maskrcnn_fixture_pwned"
    # Hand-written protocol 2: {"w": os.system(command)} via GLOBAL "os system" (pickle.dumps would say "posix").
    p2 = b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01cos\nsystem\nq\x02X" + struct.pack("<I", len(command))
    p2 += command + b"q\x03\x85q\x04Rq\x05s."
    assert "GLOBAL" in [op.name for op, _, _ in pickletools.genops(p2)]
    forbidden(os.path.join(OUT, "forbidden_global.pth"), p2)
    forbidden(os.path.join(OUT, "forbidden_stack_global.pth"), pickle.dumps({"w": evil}, protocol=4))

    g = torch.Generator().manual_seed(1)
    sums = {
        "small_subset.pth": checksums_of("small_subset.pth"),
        "small_subset_v1names.pth": checksums_of("small_subset_v1names.pth"),
        "small_mixed.pth": checksums_of("small_mixed.pth"),
        "small_legacy.pth": checksums_of("small_legacy.pth"),
        "small_subset.safetensors": {k: checksum(v, g) for k, v in st.items()},
    }
    with open(os.path.join(OUT, "checksums.json"), "w") as f:
        json.dump(sums, f)
    total = 0
    for name in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, name))
        total += size
        print(f"{name}: {size / 1024:.1f} KiB")
    print(f"total {total / 1024 / 1024:.2f} MiB; small model {sum(v.numel() for v in full.values())} values, "
          f"subset {len(subset)}/{len(full)} tensors, {sum(v.numel() for v in subset.values())} values")


if __name__ == "__main__":
    main()
