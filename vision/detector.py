"""Object detector: ONNX Runtime on CPU by default, Ultralytics (torch, GPU) when present.

Both backends take a BGR ``numpy`` frame and return :class:`Detection` objects in the
frame's pixel coordinates.  The ONNX path does its own pre- and post-processing:
letterbox to the model's square input, decode the raw YOLO head output
``(1, 4 + nc, anchors)`` (centre-x, centre-y, width, height in input pixels followed by
per-class scores), confidence filter, class-aware non-maximum suppression, and mapping
the boxes back through the letterbox.  No model is ever downloaded: a path to a local
``.onnx`` (or ``.pt`` for Ultralytics) file is required.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "ppe_yolo.onnx"
MAX_WH = 7680.0  # class offset for class-aware NMS (larger than any input)


class DetectorError(RuntimeError):
    """The model cannot be loaded or an input cannot be processed."""


@dataclass(frozen=True)
class Detection:
    cls: int
    label: str
    score: float
    xyxy: tuple[float, float, float, float]

    @property
    def center(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.xyxy
        return ((x1 + x2) / 2.0, (y1 + y2) / 2.0)

    def to_dict(self) -> dict:
        return {"cls": self.label, "score": round(float(self.score), 4),
                "xyxy": [round(float(v), 1) for v in self.xyxy]}


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model input: ``input = frame * scale + pad``."""

    scale: float
    pad_x: float
    pad_y: float
    size: int

    def to_frame(self, boxes: np.ndarray, frame_w: int, frame_h: int) -> np.ndarray:
        out = boxes.astype(np.float32, copy=True)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, frame_w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, frame_h)
        return out


def letterbox(frame: np.ndarray, size: int, color: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio and pad to ``size`` x ``size`` (centred, grey 114)."""
    import cv2

    if frame is None or frame.ndim != 3 or frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DetectorError("expected a non-empty HxWx3 image")
    h, w = frame.shape[:2]
    scale = min(size / h, size / w)
    nw, nh = int(round(w * scale)), int(round(h * scale))
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else frame
    pad_x = (size - nw) / 2.0
    pad_y = (size - nh) / 2.0
    top, left = int(round(pad_y - 0.1)), int(round(pad_x - 0.1))
    out = np.full((size, size, 3), color, dtype=np.uint8)
    out[top : top + nh, left : left + nw] = resized
    return out, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top), size=size)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``a`` (N,4) and ``b`` (M,4) xyxy boxes -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(br - tl, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices by descending score."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        ious = box_iou(boxes[i : i + 1], boxes[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


#: Classes that cannot both be true of one object (a head is bare or wears a hard hat; a
#: torso wears a vest or not).  Boxes of these classes are suppressed against each other.
EXCLUSIVE_CLASSES: tuple[tuple[str, ...], ...] = (("head", "helmet"), ("vest", "no_vest"))
#: Same-class NMS IoU: two workers' hard hats side by side overlap, so this is higher than
#: the usual 0.45 (which merged them); Ultralytics' own default is 0.7.
DEFAULT_IOU = 0.6
#: Cross-class IoU above which two boxes of one exclusive group are the same object.
DEFAULT_EXCLUSIVE_IOU = 0.5
#: A suppressed exclusive box keeps ``score * EXCLUSIVE_DECAY`` (soft suppression): at most
#: 0.2, so never reported at the usual 0.25 floor and never an event (median >= 0.5), yet
#: still ranked last for mAP at a 0.001 floor (dropping it outright cost 0.02 head mAP50
#: on the valid split).  0 drops it.
EXCLUSIVE_DECAY = 0.2


def exclusive_groups(names: list[str], groups=EXCLUSIVE_CLASSES) -> list[list[int]]:
    """Class-id groups of ``names`` that are mutually exclusive (only groups of 2+ present)."""
    index = {n: i for i, n in enumerate(names)}
    out = []
    for g in groups:
        ids = [index[n] for n in g if n in index]
        if len(ids) > 1:
            out.append(ids)
    return out


def suppress_exclusive(
    boxes: np.ndarray, scores: np.ndarray, cls_ids: np.ndarray, groups: list[list[int]], iou_threshold: float
) -> np.ndarray:
    """Indices kept after cross-class NMS inside each exclusive group (other classes untouched).

    A blue hard hat scored head 0.65 and helmet 0.36 on the same box keeps only the head
    box; a bare head next to a hard hat (low overlap) keeps both.
    """
    keep = np.ones(len(scores), bool)
    for g in groups:
        idx = np.where(np.isin(cls_ids, g))[0]
        if len(idx) < 2:
            continue
        idx = idx[np.argsort(-scores[idx], kind="stable")]
        ious = box_iou(boxes[idx], boxes[idx])
        kept: list[int] = []
        for a in range(len(idx)):
            # only boxes of *another* class of the group count: same-class pairs were
            # already decided by the per-class NMS
            if any(cls_ids[idx[k]] != cls_ids[idx[a]] and ious[a, k] > iou_threshold for k in kept):
                keep[idx[a]] = False
            else:
                kept.append(a)
    out = np.where(keep)[0]
    return out[np.argsort(-scores[out], kind="stable")]


def decode_yolo(
    output: np.ndarray,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_det: int = 300,
    agnostic: bool = False,
    exclusive: list[list[int]] | None = None,
    exclusive_iou: float = DEFAULT_EXCLUSIVE_IOU,
    exclusive_decay: float = EXCLUSIVE_DECAY,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a YOLOv8/11 head output into (boxes xyxy, scores, class ids), input pixels.

    ``output`` is ``(1, 4 + nc, N)`` or ``(4 + nc, N)``; rows 0-3 are cx, cy, w, h.
    NMS is per class at ``iou_threshold``; then, for each group of ``exclusive`` class ids,
    cross-class NMS at ``exclusive_iou`` among the group's survivors: a suppressed box's
    score is multiplied by ``exclusive_decay`` and kept only if still >= ``conf_threshold``.
    """
    out = np.asarray(output, dtype=np.float32)
    if out.ndim == 3:
        if out.shape[0] != 1:
            raise DetectorError(f"expected batch size 1, got output shape {out.shape}")
        out = out[0]
    if out.ndim != 2 or out.shape[0] < 5:
        raise DetectorError(f"unexpected YOLO output shape {np.shape(output)}")
    preds = out.T  # (N, 4 + nc)
    cls_scores = preds[:, 4:]
    cls_ids = cls_scores.argmax(axis=1)
    scores = cls_scores[np.arange(len(preds)), cls_ids]
    mask = scores >= conf_threshold
    if not mask.any():
        empty = np.zeros((0, 4), np.float32)
        return empty, np.zeros(0, np.float32), np.zeros(0, np.int64)
    preds, scores, cls_ids = preds[mask], scores[mask], cls_ids[mask]
    cx, cy, w, h = preds[:, 0], preds[:, 1], preds[:, 2], preds[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    # class-aware NMS: shift each class into its own coordinate range
    offset = 0.0 if agnostic else (cls_ids.astype(np.float32) * MAX_WH)[:, None]
    keep = nms(boxes + offset, scores, iou_threshold)
    boxes, scores, cls_ids = boxes[keep], scores[keep], cls_ids[keep]
    if exclusive and not agnostic:
        kept = suppress_exclusive(boxes, scores, cls_ids, exclusive, exclusive_iou)
        scores = scores.copy()
        suppressed = np.setdiff1d(np.arange(len(scores)), kept)
        scores[suppressed] *= exclusive_decay
        alive = np.where(scores >= conf_threshold)[0]
        order = alive[np.argsort(-scores[alive], kind="stable")]
        boxes, scores, cls_ids = boxes[order], scores[order], cls_ids[order]
    return boxes[:max_det], scores[:max_det], cls_ids[:max_det].astype(np.int64)


class Detector(Protocol):
    names: list[str]
    imgsz: int

    def detect(self, frame: np.ndarray) -> list[Detection]: ...


def _parse_names(meta: dict[str, str]) -> list[str] | None:
    raw = meta.get("names")
    if not raw:
        return None
    try:
        parsed = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return None
    if isinstance(parsed, dict):
        return [str(parsed[k]) for k in sorted(parsed, key=int)]
    if isinstance(parsed, list):
        return [str(n) for n in parsed]
    return None


@dataclass
class OnnxDetector:
    """YOLO ONNX model run by onnxruntime on CPU."""

    model_path: Path = DEFAULT_MODEL
    conf_threshold: float = 0.25
    iou_threshold: float = DEFAULT_IOU
    threads: int | None = None
    names: list[str] = field(default_factory=list)
    imgsz: int = 0
    exclusive_iou: float | None = DEFAULT_EXCLUSIVE_IOU  # None: no cross-class suppression

    def __post_init__(self) -> None:
        import onnxruntime as ort

        self.model_path = Path(self.model_path)
        if not self.model_path.is_file():
            raise DetectorError(
                f"model file {self.model_path} not found (models are never downloaded; "
                "export one with `qhse vision export`)"
            )
        opts = ort.SessionOptions()
        if self.threads:
            opts.intra_op_num_threads = int(self.threads)
            opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise DetectorError(f"cannot load {self.model_path}: {exc}") from exc
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        shape = inp.shape
        meta = self.session.get_modelmeta().custom_metadata_map or {}
        if not self.imgsz:
            if isinstance(shape[2], int) and isinstance(shape[3], int):
                self.imgsz = int(shape[2])
            else:
                imgsz = meta.get("imgsz")
                self.imgsz = int(ast.literal_eval(imgsz)[0]) if imgsz else 640
        if not self.names:
            self.names = _parse_names(meta) or []
        out_shape = self.session.get_outputs()[0].shape
        nc = out_shape[1] - 4 if len(out_shape) == 3 and isinstance(out_shape[1], int) else None
        if not self.names:
            if nc is None:
                raise DetectorError(f"{self.model_path} carries no class names")
            self.names = [f"class{i}" for i in range(nc)]
        if nc is not None and nc != len(self.names):
            raise DetectorError(f"{self.model_path}: {nc} outputs but {len(self.names)} class names")
        self.exclusive = exclusive_groups(self.names) if self.exclusive_iou is not None else []

    def preprocess(self, frame: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        img, lb = letterbox(frame, self.imgsz)
        blob = img[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        return np.ascontiguousarray(blob), lb

    def raw(self, frame: np.ndarray, conf_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (frame pixels), scores and class ids, before wrapping in Detection."""
        blob, lb = self.preprocess(frame)
        (out,) = self.session.run(None, {self.input_name: blob})[:1]
        conf = self.conf_threshold if conf_threshold is None else conf_threshold
        boxes, scores, cls = decode_yolo(out, conf, self.iou_threshold, exclusive=self.exclusive,
                                         exclusive_iou=self.exclusive_iou or DEFAULT_EXCLUSIVE_IOU)
        h, w = frame.shape[:2]
        return lb.to_frame(boxes, w, h), scores, cls

    def detect(self, frame: np.ndarray, conf_threshold: float | None = None) -> list[Detection]:
        boxes, scores, cls = self.raw(frame, conf_threshold)
        return [
            Detection(int(c), self.names[int(c)], float(s), tuple(float(v) for v in b))
            for b, s, c in zip(boxes, scores, cls, strict=False)
        ]


@dataclass
class UltralyticsDetector:
    """The same interface on a local Ultralytics checkpoint (GPU when torch sees one)."""

    model_path: Path
    conf_threshold: float = 0.25
    iou_threshold: float = 0.45
    device: str | None = None
    imgsz: int = 320
    names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise DetectorError("the Ultralytics backend needs the [train] extra (ultralytics, torch)") from exc
        self.model_path = Path(self.model_path)
        if not self.model_path.is_file():
            raise DetectorError(f"model file {self.model_path} not found")
        self.model = YOLO(str(self.model_path))
        names = self.model.names
        self.names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)

    def detect(self, frame: np.ndarray, conf_threshold: float | None = None) -> list[Detection]:
        conf = self.conf_threshold if conf_threshold is None else conf_threshold
        res = self.model.predict(frame, imgsz=self.imgsz, conf=conf, iou=self.iou_threshold,
                                 device=self.device, verbose=False)[0]
        b = res.boxes
        xyxy = b.xyxy.cpu().numpy()
        return [
            Detection(int(c), self.names[int(c)], float(s), tuple(float(v) for v in xy))
            for xy, s, c in zip(xyxy, b.conf.cpu().numpy(), b.cls.cpu().numpy(), strict=False)
        ]


def load_detector(
    model_path: Path | str | None = None,
    backend: str = "auto",
    conf_threshold: float = 0.25,
    iou_threshold: float = DEFAULT_IOU,
    threads: int | None = None,
    exclusive_iou: float | None = DEFAULT_EXCLUSIVE_IOU,
) -> Detector:
    """``backend``: ``onnx``, ``ultralytics``, or ``auto`` (by file suffix: .pt -> ultralytics).

    ``exclusive_iou``: cross-class suppression of mutually exclusive classes (ONNX backend;
    ``None`` turns it off)."""
    path = Path(model_path) if model_path else DEFAULT_MODEL
    if backend == "auto":
        backend = "ultralytics" if path.suffix == ".pt" else "onnx"
    if backend == "onnx":
        return OnnxDetector(path, conf_threshold, iou_threshold, threads, exclusive_iou=exclusive_iou)
    if backend == "ultralytics":
        return UltralyticsDetector(path, conf_threshold, iou_threshold)
    raise DetectorError(f"unknown detector backend {backend!r} (use onnx or ultralytics)")
