"""COCO-pretrained YOLO11n start weights for PPE fine-tuning (needs the ``[train]`` extra).

The start weights are the tensors of a COCO-trained Ultralytics YOLO11n exported to ONNX
with conv and batch-norm fused and quantised to uint8 (``../shared/weights/SOURCE.txt``;
licence AGPL-3.0).  They are de-quantised and loaded into an *unfused* Ultralytics
YOLO11n (``yolo11n.yaml``):

* a fused conv ``W, b`` becomes conv ``W`` followed by a batch-norm that is the identity
  plus ``b`` in eval mode.  So that it is also close to the identity in train mode (batch
  statistics), the batch-norm's running mean/variance are set to the statistics of the conv
  output measured on a few training images, with ``gamma = sqrt(var + eps)`` and
  ``beta = mean + b`` -- the eval output is unchanged and batch statistics match;
* the head's class layer (``model.23.cv3.*.2``, 80 COCO classes) is replaced by one for
  the PPE classes; the ``person`` row is copied from COCO's ``person`` (class 0), the
  others start fresh (Ultralytics' bias prior).

The result is saved as an Ultralytics checkpoint (``.pt``) that ``vision.training.train``
fine-tunes with ``--pretrained``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

COCO_PERSON = 0
LICENCE = "AGPL-3.0 (Ultralytics YOLO11n COCO weights)"
DEFAULT_ONNX = Path(__file__).resolve().parents[2] / "shared" / "weights" / "yolo11n-coco-320-int8.onnx"


def cls_width(model) -> int | None:
    """Channels of the head's class branch of an Ultralytics detection model (``None``: unknown)."""
    try:
        return int(model.model[-1].cv3[0][-1].in_channels)
    except (AttributeError, IndexError, TypeError):
        return None


def ppe_detection_model(cfg, nc: int, width: int | None = None, ch: int = 3, verbose: bool = False):
    """``DetectionModel(cfg, nc)`` whose class branch is ``width`` channels wide.

    Ultralytics sizes the class branch from the class count (80 wide for COCO, 64 for a
    few classes); keeping COCO's 80 lets every pretrained tensor of that branch load.
    """
    import torch
    from ultralytics.nn.tasks import DetectionModel

    plain = DetectionModel(cfg, nc=nc, ch=ch, verbose=verbose)
    if width is None or width == cls_width(plain):
        return plain
    model = DetectionModel(cfg, nc=width, ch=ch, verbose=verbose)
    if cls_width(model) != width:
        raise ValueError(f"cannot build a class branch {width} channels wide from {cfg}")
    head = model.model[-1]
    for i, seq in enumerate(head.cv3):
        conv = torch.nn.Conv2d(width, nc, 1)
        with torch.no_grad():
            conv.bias.fill_(math.log(5 / nc / (640 / float(head.stride[i])) ** 2))
        seq[-1] = conv
    head.nc = nc
    head.no = nc + head.reg_max * 4
    model.nc = nc
    model.yaml["nc"] = nc
    model.names = {i: f"{i}" for i in range(nc)}
    return model


def onnx_tensors(path: Path) -> dict[str, np.ndarray]:
    """Float tensors named like Ultralytics' fused state dict, de-quantised."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    raw = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out: dict[str, np.ndarray] = {}
    for name, arr in raw.items():
        if name.startswith("/"):
            continue
        if name.endswith(".weight_quantized"):
            base = name[: -len("_quantized")]
            scale = raw[base + "_scale"].astype(np.float32)
            zp = raw[base + "_zero_point"].astype(np.float32)
            q = arr.astype(np.float32)
            shape = (-1,) + (1,) * (q.ndim - 1)
            if scale.ndim and scale.size > 1:
                scale = scale.reshape(shape)
                zp = zp.reshape(shape)
            out[base] = (q - zp) * scale
        elif name.endswith((".weight", ".bias")):
            out[name] = arr.astype(np.float32)
    return out


def _coco_model(tensors: dict[str, np.ndarray]):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel("yolo11n.yaml", nc=80, verbose=False)
    sd = model.state_dict()
    new: dict[str, torch.Tensor] = {}
    used = set()
    for key in sd:
        if key.endswith(".conv.weight") and key in tensors:
            w = torch.from_numpy(tensors[key])
            if w.shape != sd[key].shape:  # ONNX weights may be stored transposed for 1x1 convs
                raise ValueError(f"{key}: shape {tuple(w.shape)} != {tuple(sd[key].shape)}")
            new[key] = w
            used.add(key)
            prefix = key[: -len(".conv.weight")]
            bias = tensors.get(f"{prefix}.conv.bias")
            if f"{prefix}.bn.weight" in sd:
                c = w.shape[0]
                b = torch.from_numpy(bias) if bias is not None else torch.zeros(c)
                eps = model.get_submodule(f"{prefix}.bn").eps
                new[f"{prefix}.bn.weight"] = torch.full((c,), math.sqrt(1 + eps))
                new[f"{prefix}.bn.bias"] = b
                new[f"{prefix}.bn.running_mean"] = torch.zeros(c)
                new[f"{prefix}.bn.running_var"] = torch.ones(c)
                used.add(f"{prefix}.conv.bias")
        elif key.endswith((".weight", ".bias")) and key in tensors and ".bn." not in key:
            new[key] = torch.from_numpy(tensors[key]).reshape(sd[key].shape)
            used.add(key)
    missing = [k for k in sd if k not in new and not k.endswith("num_batches_tracked")]
    if missing:
        raise ValueError(f"pretrained tensors do not cover {len(missing)} model tensors, e.g. {missing[:3]}")
    model.load_state_dict(new, strict=False)
    return model.eval()


def _calibrate_bn(model, images: list[np.ndarray]) -> None:
    """Set each batch-norm to mean/var of its input, keeping the eval function unchanged."""
    import torch

    stats: dict[str, list] = {}
    hooks = []
    bns = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    for name, bn in bns.items():
        def hook(mod, inp, name=name):
            x = inp[0].detach()
            s = stats.setdefault(name, [0.0, 0.0, 0])
            s[0] = s[0] + x.sum(dim=(0, 2, 3))
            s[1] = s[1] + (x * x).sum(dim=(0, 2, 3))
            s[2] += x.shape[0] * x.shape[2] * x.shape[3]
        hooks.append(bn.register_forward_pre_hook(hook))
    with torch.no_grad():
        for i in range(0, len(images), 8):
            batch = torch.from_numpy(np.stack(images[i : i + 8])).float()
            model(batch)
    for h in hooks:
        h.remove()
    with torch.no_grad():
        for name, bn in bns.items():
            s1, s2, n = stats[name]
            mean = s1 / n
            var = (s2 / n - mean * mean).clamp(min=1e-6)
            b = bn.bias.clone()
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(var)
            bn.weight.copy_(torch.sqrt(var + bn.eps))
            bn.bias.copy_(mean + b)


def _load_images(folder: Path, n: int, size: int) -> list[np.ndarray]:
    import cv2

    from vision.detector import letterbox

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    step = max(1, len(files) // n)
    out = []
    for p in files[::step][:n]:
        img = cv2.imread(str(p))
        if img is None:
            continue
        lb, _ = letterbox(img, size)
        out.append(np.ascontiguousarray(lb[:, :, ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.0)
    return out


def build(
    out: Path,
    names: list[str],
    onnx_path: Path = DEFAULT_ONNX,
    calib_images: Path | None = None,
    n_calib: int = 64,
    imgsz: int = 320,
    person_class: str = "person",
) -> Path:
    """Write a PPE start checkpoint (Ultralytics ``.pt``) from the COCO ONNX weights."""
    import datetime

    import torch
    from ultralytics import __version__ as ul_version

    torch.manual_seed(0)
    coco = _coco_model(onnx_tensors(Path(onnx_path)))
    if calib_images is not None:
        _calibrate_bn(coco, _load_images(calib_images, n_calib, imgsz))
    nc = len(names)
    model = ppe_detection_model("yolo11n.yaml", nc, width=cls_width(coco))
    src = coco.state_dict()
    dst = model.state_dict()
    for key, val in src.items():
        if key in dst and dst[key].shape == val.shape:
            dst[key] = val.clone()
    head = model.model[-1]
    coco_head = coco.model[-1]
    with torch.no_grad():
        for i, seq in enumerate(head.cv3):
            conv, coco_conv = seq[-1], coco_head.cv3[i][-1]
            if person_class in names:
                j = names.index(person_class)
                dst_w = f"model.23.cv3.{i}.2.weight"
                dst_b = f"model.23.cv3.{i}.2.bias"
                dst[dst_w][j] = coco_conv.weight[COCO_PERSON]
                dst[dst_b][j] = coco_conv.bias[COCO_PERSON]
            del conv
    missing = [k for k in dst if k in src and dst[k].shape != src[k].shape and ".cv3." not in k]
    if missing:
        raise ValueError(f"start model does not match the COCO tensors: {missing[:3]}")
    model.load_state_dict(dst)
    model.names = dict(enumerate(names))
    model.args = {"imgsz": imgsz}
    ckpt = {
        "date": datetime.datetime.now().isoformat(),
        "version": ul_version,
        "license": LICENCE,
        "docs": "vision/models/MODEL_CARD.md",
        "epoch": -1,
        "best_fitness": None,
        "model": model.half(),
        "ema": None,
        "updates": None,
        "optimizer": None,
        "train_args": {"imgsz": imgsz},
        "train_metrics": None,
        "train_results": None,
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, out)
    return out


def check_against_onnx(onnx_path: Path, image: np.ndarray) -> float:
    """Correlation of COCO class scores: torch model (with neutral BN) vs the ONNX file."""
    import onnxruntime as ort
    import torch

    coco = _coco_model(onnx_tensors(Path(onnx_path)))
    x = image[None].astype(np.float32)
    with torch.no_grad():
        y = coco(torch.from_numpy(x))[0].numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    z = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return float(np.corrcoef(y[0, 4:].ravel(), z[0, 4:].ravel())[0, 1])
