"""Training and ONNX export of the PPE detector (needs the ``[train]`` extra: ultralytics).

Nothing is downloaded: training starts either from a model *definition*
(``yolo11n.yaml``, random weights) or, with ``pretrained``, from local weights -- an
Ultralytics checkpoint (``.pt``, e.g. the champion when retraining) or the COCO YOLO11n
ONNX file in ``../shared/weights`` (turned into a start checkpoint by
``vision.pretrained``; AGPL-3.0).  Checkpoints are written every epoch
(``<project>/<name>/weights/{last,best,epochN}.pt``) and an interrupted run continues
with ``resume=True``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path


class TrainingUnavailable(RuntimeError):
    """ultralytics / torch are not installed in this environment."""


def _nms_reference(boxes, scores, iou_threshold: float):
    """NMS in plain torch (used only when torchvision's compiled ops are missing).

    Up to a few thousand boxes: one IoU matrix and a greedy pass over its rows;
    beyond that, Ultralytics' own torch implementation.
    """
    import numpy as np
    import torch

    n = int(boxes.shape[0])
    if n == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    if n > 6000:
        from ultralytics.utils.nms import TorchNMS

        return TorchNMS.nms(boxes, scores, float(iou_threshold))
    order = scores.argsort(descending=True)
    b = boxes[order].float()
    area = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(b[:, None, :2], b[None, :, :2])
    rb = torch.minimum(b[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    over = (inter / (area[:, None] + area[None, :] - inter + 1e-9) > iou_threshold).cpu().numpy()
    removed = np.zeros(n, bool)
    keep = []
    for i in range(n):
        if removed[i]:
            continue
        keep.append(i)
        removed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def _ensure_torchvision() -> None:
    """Make ``import torchvision`` work with a CPU-only torch wheel.

    The package index offers torchvision only as a CUDA build; with a CPU torch its
    compiled extension cannot load and importing torchvision fails on the missing
    ``torchvision::nms``/``qnms`` operators.  Registering them (a plain torch kernel)
    before the import lets torchvision load; ultralytics does its own NMS for detection.
    """
    import sys

    try:
        import torchvision

        return
    except ImportError:
        return
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.impl("nms", _nms_reference, "CPU")
    lib.impl("qnms", _nms_reference, "CPU")
    _ensure_torchvision._lib = lib  # keep the registration alive
    import torchvision
    import torchvision.extension

    torchvision.extension._has_ops = lambda: True  # nms/qnms now exist (the other ops stay unavailable)


def _trainer():
    """Ultralytics' detection trainer building the class branch as wide as the start weights."""
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils import RANK

    from vision.pretrained import cls_width, ppe_detection_model

    class PPETrainer(DetectionTrainer):
        def get_model(self, cfg=None, weights=None, verbose=True):
            model = ppe_detection_model(
                cfg, self.data["nc"], width=cls_width(weights) if weights else None,
                ch=self.data["channels"], verbose=verbose and RANK == -1,
            )
            model = self.set_model_names_for_load(model)
            if weights:
                model.load(weights)
            return model

    return PPETrainer


def _ultralytics():
    try:
        _ensure_torchvision()
        import ultralytics  # noqa: F401
        from ultralytics import YOLO
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise TrainingUnavailable(
            "training needs the [train] extra: pip install -e '.[train]' (ultralytics, torch)"
        ) from exc
    try:  # keep runs offline: no hub sync, no analytics
        from ultralytics import settings

        # no hub sync, and no experiment-tracker callbacks (Ultralytics' MLflow callback
        # would create its own mlflow.db in the working directory; the project registers
        # models itself, see vision.registry)
        for key in ("sync", "hub", "mlflow", "clearml", "comet", "dvc", "neptune", "raytune", "tensorboard", "wandb"):
            with contextlib.suppress(Exception):  # keys differ between releases
                settings.update({key: False})
    except ImportError:
        pass
    return YOLO


@dataclass
class TrainConfig:
    data: Path
    model: str = "yolo11n.yaml"
    imgsz: int = 320
    epochs: int = 100
    hours: float | None = None
    batch: int = 16
    threads: int = 1
    workers: int = 0
    project: Path = Path(".qhse/runs")
    name: str = "ppe"
    patience: int = 100
    cache: bool | str = "ram"
    seed: int = 0
    pretrained: Path | None = None
    warmup_epochs: float | None = None
    close_mosaic: int | None = None
    val: bool = True
    lr0: float | None = None  # with it, AdamW at this rate (else Ultralytics' automatic choice)


def start_checkpoint(cfg: TrainConfig, run_dir: Path) -> Path:
    """The ``.pt`` a pretrained run starts from (built once from an ONNX file)."""
    src = Path(cfg.pretrained)
    if not src.is_file():
        raise FileNotFoundError(f"pretrained weights {src} not found")
    if src.suffix == ".pt":
        return src
    if src.suffix != ".onnx":
        raise ValueError(f"pretrained weights must be .pt or .onnx, not {src.name}")
    import yaml

    from vision.pretrained import build

    data = yaml.safe_load(Path(cfg.data).read_text()) or {}
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    root = Path(data.get("path") or Path(cfg.data).parent)
    if not root.is_absolute():
        root = Path(cfg.data).parent / root
    train_images = root / str(data.get("train", "train/images"))
    out = run_dir / "start.pt"
    return build(out, list(names), onnx_path=src, calib_images=train_images if train_images.is_dir() else None,
                 imgsz=cfg.imgsz)


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Train (or resume) a detector; returns the run folder."""
    os.environ.setdefault("OMP_NUM_THREADS", str(cfg.threads))
    YOLO = _ultralytics()
    import torch

    torch.set_num_threads(max(1, cfg.threads))
    run_dir = Path(cfg.project).resolve() / cfg.name
    last = run_dir / "weights" / "last.pt"
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"nothing to resume: {last} does not exist")
        YOLO(str(last)).train(resume=True, trainer=_trainer())
        return run_dir
    extra: dict = {}
    if cfg.pretrained is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        model = YOLO(str(start_checkpoint(cfg, run_dir)))
        extra["warmup_epochs"] = 0.3 if cfg.warmup_epochs is None else cfg.warmup_epochs
        extra["close_mosaic"] = 1 if cfg.close_mosaic is None else cfg.close_mosaic
    else:
        if cfg.model.endswith(".pt"):
            raise ValueError("without --pretrained, training starts from a model definition (.yaml)")
        model = YOLO(cfg.model)
        if cfg.warmup_epochs is not None:
            extra["warmup_epochs"] = cfg.warmup_epochs
        if cfg.close_mosaic is not None:
            extra["close_mosaic"] = cfg.close_mosaic
    if cfg.lr0 is not None:
        extra.update(optimizer="AdamW", lr0=cfg.lr0)
    model.train(
        trainer=_trainer(),
        data=str(Path(cfg.data).resolve()),
        imgsz=cfg.imgsz,
        epochs=cfg.epochs,
        time=cfg.hours,
        batch=cfg.batch,
        workers=cfg.workers,
        device="cpu",
        project=str(Path(cfg.project).resolve()),
        name=cfg.name,
        exist_ok=True,
        pretrained=cfg.pretrained is not None,
        save_period=1,
        patience=cfg.patience,
        cache=cfg.cache,
        plots=False,
        amp=False,
        seed=cfg.seed,
        val=cfg.val,
        verbose=True,
        **extra,
    )
    return run_dir


def export_onnx(weights: Path, out: Path, imgsz: int | None = None, opset: int = 17) -> Path:
    """Export a checkpoint to ONNX (raw YOLO head output, NMS done by the project)."""
    YOLO = _ultralytics()
    model = YOLO(str(weights))
    if imgsz is None:
        imgsz = int(getattr(model, "overrides", {}).get("imgsz", 320) or 320)
    produced = model.export(format="onnx", imgsz=imgsz, opset=opset, dynamic=False, simplify=True, nms=False)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if Path(produced).resolve() != out.resolve():
        shutil.copyfile(produced, out)
    return out


def _main() -> None:  # pragma: no cover - thin wrapper for the training venv
    import argparse

    p = argparse.ArgumentParser(description="train / export the PPE detector")
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True, type=Path)
    t.add_argument("--model", default="yolo11n.yaml")
    t.add_argument("--imgsz", type=int, default=320)
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--hours", type=float, default=None)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--project", type=Path, default=Path(".qhse/runs"))
    t.add_argument("--name", default="ppe")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--pretrained", type=Path, default=None)
    t.add_argument("--workers", type=int, default=0)
    e = sub.add_parser("export")
    e.add_argument("--weights", required=True, type=Path)
    e.add_argument("--out", required=True, type=Path)
    e.add_argument("--imgsz", type=int, default=None)
    a = p.parse_args()
    if a.cmd == "train":
        cfg = TrainConfig(
            data=a.data, model=a.model, imgsz=a.imgsz, epochs=a.epochs, hours=a.hours,
            batch=a.batch, threads=a.threads, project=a.project, name=a.name,
            pretrained=a.pretrained, workers=a.workers,
        )
        print(train(cfg, resume=a.resume))
    else:
        print(export_onnx(a.weights, a.out, a.imgsz))


if __name__ == "__main__":  # pragma: no cover
    _main()
