"""Detector evaluation on a YOLO dataset split, through the project's own ONNX path.

Metrics per class and overall:

* **AP** at one IoU threshold: predictions of all images sorted by score, each greedily
  matched (highest score first) to the unmatched ground-truth box of its class with the
  highest IoU >= threshold; AP is the area under the precision envelope
  (all-point interpolation, ``sum((r_i - r_{i-1}) * max(p_j for j >= i))``).
* **mAP50** = AP at IoU 0.5; **mAP50-95** = mean AP over IoU 0.50, 0.55, ..., 0.95.
* **precision / recall** at IoU 0.5 for the predictions scoring at least ``conf``
  (the detector's operating threshold, 0.25 by default).
* ``all`` = mean over the classes that have ground truth in the split.

Dataset class names are matched to the model's by name (``no_helmet`` counts as ``head``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from .detector import box_iou

IOU_THRESHOLDS = np.round(np.linspace(0.5, 0.95, 10), 2)
NAME_ALIASES = {"no_helmet": "head", "capacete": "helmet", "colete_refletivo": "vest",
                "sem_capacete": "head", "sem_colete_refletivo": "no_vest"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class DatasetError(ValueError):
    """The dataset description or its files are unusable."""


@dataclass
class ImageTruth:
    path: Path
    boxes: np.ndarray  # (N, 4) xyxy pixels
    classes: np.ndarray  # (N,) model class ids


@dataclass
class ImagePred:
    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray


def load_split(data_yaml: Path, split: str) -> tuple[list[Path], list[str]]:
    """Image paths of ``split`` (train / val / valid / test) and the dataset's class names."""
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise DatasetError(f"{data_yaml} not found")
    try:
        cfg = yaml.safe_load(data_yaml.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DatasetError(f"{data_yaml}: not valid YAML ({exc})") from None
    key = {"valid": "val", "validation": "val"}.get(split, split)
    if key not in cfg:
        raise DatasetError(f"{data_yaml} has no {key!r} split")
    names = cfg.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names:
        raise DatasetError(f"{data_yaml} has no class names")
    root = Path(cfg.get("path") or data_yaml.parent)
    if not root.is_absolute():
        root = (data_yaml.parent / root).resolve()
    entries = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
    images: list[Path] = []
    for e in entries:
        p = Path(e)
        if not p.is_absolute():
            p = (root / p).resolve()
            if not p.exists():  # Roboflow style ../test/images
                alt = (data_yaml.parent / e).resolve()
                p = alt if alt.exists() else p
        if p.is_dir():
            images += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file() and p.suffix == ".txt":
            images += [Path(line.strip()) for line in p.read_text().splitlines() if line.strip()]
        else:
            raise DatasetError(f"split {key!r}: {p} does not exist")
    if not images:
        raise DatasetError(f"split {key!r} of {data_yaml} holds no images")
    return images, [str(n) for n in names]


def label_path(image: Path) -> Path:
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_labels(image: Path, width: int, height: int, class_map: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    lp = label_path(image)
    boxes, classes = [], []
    if lp.is_file():
        for n, line in enumerate(lp.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            try:
                c = int(parts[0])
                cx, cy, w, h = (float(v) for v in parts[1:5])
            except ValueError:
                raise DatasetError(f"{lp}:{n}: expected 'class cx cy w h'") from None
            if c not in class_map:
                continue
            boxes.append([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height])
            classes.append(class_map[c])
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(classes, np.int64)


def map_classes(dataset_names: list[str], model_names: list[str]) -> dict[int, int]:
    index = {n: i for i, n in enumerate(model_names)}
    out = {}
    missing = []
    for i, n in enumerate(dataset_names):
        target = n if n in index else NAME_ALIASES.get(n)
        if target in index:
            out[i] = index[target]
        else:
            missing.append(n)
    if not out:
        raise DatasetError(f"no dataset class ({dataset_names}) is known to the model ({model_names})")
    return out


def match(pred: ImagePred, truth: ImageTruth, cls: int, iou_thr: float) -> tuple[np.ndarray, np.ndarray]:
    """(scores, tp flags) of class ``cls`` predictions in one image at ``iou_thr``."""
    pm = pred.classes == cls
    scores = pred.scores[pm]
    order = np.argsort(-scores, kind="stable")
    scores = scores[order]
    pboxes = pred.boxes[pm][order]
    gboxes = truth.boxes[truth.classes == cls]
    tp = np.zeros(len(scores), bool)
    if len(gboxes) and len(pboxes):
        ious = box_iou(pboxes, gboxes)
        used = np.zeros(len(gboxes), bool)
        for i in range(len(pboxes)):
            cand = np.where(~used & (ious[i] >= iou_thr - 1e-9))[0]
            if cand.size:
                j = cand[np.argmax(ious[i, cand])]
                used[j] = True
                tp[i] = True
    return scores, tp


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """All-point interpolated AP of pooled predictions."""
    if n_gt == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = tp[order].astype(np.float64)
    ctp = np.cumsum(tp)
    cfp = np.cumsum(1.0 - tp)
    recall = ctp / n_gt
    precision = ctp / (ctp + cfp)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    prev = np.concatenate([[0.0], recall[:-1]])
    return float(np.sum((recall - prev) * envelope))


def compute_metrics(preds: list[ImagePred], truths: list[ImageTruth], names: list[str],
                    conf: float = 0.25) -> dict:
    classes: dict[str, dict] = {}
    for c, name in enumerate(names):
        n_gt = int(sum((t.classes == c).sum() for t in truths))
        n_pred = int(sum((p.classes == c).sum() for p in preds))
        if n_gt == 0 and n_pred == 0:
            continue
        aps = []
        for thr in IOU_THRESHOLDS:
            s_all, tp_all = [], []
            for p, t in zip(preds, truths, strict=False):
                s, tp = match(p, t, c, float(thr))
                s_all.append(s)
                tp_all.append(tp)
            s_cat = np.concatenate(s_all) if s_all else np.zeros(0)
            tp_cat = np.concatenate(tp_all) if tp_all else np.zeros(0, bool)
            aps.append(average_precision(s_cat, tp_cat, n_gt))
            if thr == 0.5:
                keep = s_cat >= conf
                n_tp = int(tp_cat[keep].sum())
                n_det = int(keep.sum())
        precision = n_tp / n_det if n_det else 0.0
        recall = n_tp / n_gt if n_gt else float("nan")
        classes[name] = {
            "map50": aps[0], "map50_95": float(np.mean(aps)) if n_gt else float("nan"),
            "precision": precision, "recall": recall, "instances": n_gt, "predictions": n_det,
        }
    scored = [m for m in classes.values() if m["instances"] > 0]
    agg = {k: (float(np.mean([m[k] for m in scored])) if scored else 0.0)
           for k in ("map50", "map50_95", "precision", "recall")}
    agg["instances"] = int(sum(m["instances"] for m in scored))
    agg["images"] = len(truths)
    return {"all": agg, "classes": classes}


def evaluate(detector, data_yaml: Path, split: str = "test", conf: float = 0.25,
             min_conf: float = 0.001, progress: Callable[[Iterable], Iterable] | None = None) -> dict:
    """Run ``detector`` (an :class:`~vision.detector.OnnxDetector`) on the split and score it."""
    import cv2

    images, ds_names = load_split(data_yaml, split)
    cmap = map_classes(ds_names, detector.names)
    preds, truths = [], []
    it = progress(images) if progress else images
    for img_path in it:
        frame = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
        if frame is None:
            raise DatasetError(f"cannot read image {img_path}")
        h, w = frame.shape[:2]
        gb, gc = read_labels(img_path, w, h, cmap)
        truths.append(ImageTruth(img_path, gb, gc))
        boxes, scores, cls = detector.raw(frame, conf_threshold=min_conf)
        preds.append(ImagePred(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64),
                               np.asarray(cls, np.int64)))
    present = sorted(set(cmap.values()))
    names = [n if i in present else None for i, n in enumerate(detector.names)]
    res = compute_metrics(preds, truths, [n or f"_unused{i}" for i, n in enumerate(names)], conf)
    res["classes"] = {k: v for k, v in res["classes"].items() if not k.startswith("_unused")}
    scored = [m for m in res["classes"].values() if m["instances"] > 0]
    for k in ("map50", "map50_95", "precision", "recall"):
        res["all"][k] = float(np.mean([m[k] for m in scored])) if scored else 0.0
    res["all"]["instances"] = int(sum(m["instances"] for m in scored))
    return res
