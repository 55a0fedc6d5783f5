"""Review that retrains: reviewed events + base data -> fine-tuned challenger -> champion
only when it is better on a fixed split (``qhse vision retrain``; needs the [train] extra).

1. confirmed and false-positive events are exported as YOLO data (boxes as reviewed,
   false positives as hard negatives; :func:`vision.review_export.export_reviews`);
2. one training set is built from the base data's train split plus the reviews (links,
   nothing copied); the base data's valid split validates the run;
3. the champion is fine-tuned (its ``weights.pt`` from the registry; before the first
   version, ``--weights`` or the shipped ``vision/models/ppe_yolo.pt``);
4. the result is exported to ONNX and scored with ``vision.evaluate`` on the fixed
   ``--test-data`` split, and so is the champion (the same images, the same code);
5. it is registered in MLflow as a new version with the ``challenger`` alias, and gets
   ``champion`` (and is published to the worker) only if its mAP50 is higher.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ml import tracking

from . import registry
from .prepare_data import CLASSES, IMAGE_SUFFIXES

SHIPPED_ONNX = Path(__file__).resolve().parent / "models" / "ppe_yolo.onnx"
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "models" / "ppe_yolo.pt"


class RetrainError(RuntimeError):
    """Retraining cannot run; the message says why."""


@dataclass
class RetrainResult:
    version: str
    promoted: bool
    decision: str
    challenger_map50: float
    champion_map50: float | None
    champion_version: str | None
    reviews: dict = field(default_factory=dict)
    train_images: int = 0
    onnx: Path | None = None

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["onnx"] = str(self.onnx) if self.onnx else None
        return d


def _split_dirs(data_yaml: Path, split: str) -> tuple[Path, Path] | None:
    cfg = yaml.safe_load(Path(data_yaml).read_text()) or {}
    root = Path(cfg.get("path") or Path(data_yaml).parent)
    if not root.is_absolute():
        root = Path(data_yaml).parent / root
    rel = cfg.get({"valid": "val"}.get(split, split))
    if not rel:
        return None
    img = (root / rel).resolve()
    lbl = img.parent / "labels" if img.name == "images" else img.parent / "labels"
    return img, lbl


def _link_split(src_img: Path, src_lbl: Path, dst: Path, prefix: str) -> int:
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    n = 0
    for img in sorted(src_img.iterdir()):
        if img.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        target = dst / "images" / f"{prefix}{img.name}"
        if not target.exists():
            os.symlink(img.resolve(), target)
        lbl = src_lbl / f"{img.stem}.txt"
        (dst / "labels" / f"{prefix}{img.stem}.txt").write_text(lbl.read_text() if lbl.is_file() else "")
        n += 1
    return n


def build_dataset(base_yaml: Path, reviews_dir: Path | None, out: Path, names: list[str]) -> tuple[Path, int]:
    """Train = base train + reviews; valid = base valid.  Returns (data.yaml, train images)."""
    out = Path(out)
    train = _split_dirs(base_yaml, "train")
    valid = _split_dirs(base_yaml, "valid") or train
    if train is None or not train[0].is_dir():
        raise RetrainError(f"{base_yaml}: no train split")
    n = _link_split(train[0], train[1], out / "train", "base__")
    if reviews_dir is not None and (Path(reviews_dir) / "images").is_dir():
        n += _link_split(Path(reviews_dir) / "images", Path(reviews_dir) / "labels", out / "train", "review__")
    _link_split(valid[0], valid[1], out / "valid", "base__")
    data = {"path": str(out.resolve()), "train": "train/images", "val": "valid/images",
            "nc": len(names), "names": list(names)}
    y = out / "data.yaml"
    y.write_text(yaml.safe_dump(data, sort_keys=False))
    return y, n


def _score(onnx: Path, test_yaml: Path, split: str) -> dict:
    from .detector import OnnxDetector
    from .evaluate import evaluate

    return evaluate(OnnxDetector(Path(onnx), threads=1), test_yaml, split)


def retrain(
    *,
    test_data: Path,
    base_data: Path,
    work_dir: Path,
    engine=None,
    store: tracking.Store | None = None,
    data_dir: Path | None = None,
    weights: Path | None = None,
    champion_onnx: Path | None = None,
    test_split: str = "test",
    epochs: int = 3,
    imgsz: int = 320,
    batch: int = 16,
    threads: int = 1,
    lr0: float | None = None,
    say=print,
) -> RetrainResult:
    """See the module docstring.  ``engine``: the platform database (reviews); None skips them."""
    from .review_export import export_reviews
    from .training import TrainConfig, export_onnx, train

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    run_dir = work_dir / stamp
    reviews = {}
    reviews_dir = None
    if engine is not None:
        say("exporting reviewed events")
        rep = export_reviews(engine, run_dir / "reviews", classes=CLASSES)
        reviews = dict(rep.written)
        reviews_dir = run_dir / "reviews"
    data_yaml, n_train = build_dataset(base_data, reviews_dir, run_dir / "dataset", CLASSES)

    store = store or tracking.resolve_store()
    client = tracking.use_store(store)
    champ = tracking.champion_version(client, registry.MODEL_NAME)
    champ_files: dict[str, Path] = registry.version_files(client, champ.version) if champ is not None else {}
    start = weights or champ_files.get("weights") or SHIPPED_WEIGHTS
    if not Path(start).is_file():
        raise RetrainError(f"no start weights: {start} not found (pass --weights)")
    champ_onnx = champ_files.get("onnx") or champion_onnx or SHIPPED_ONNX

    say(f"fine-tuning {start} for {epochs} epoch(s) on {n_train} images")
    cfg = TrainConfig(data=data_yaml, imgsz=imgsz, epochs=epochs, batch=batch, threads=threads,
                      project=run_dir, name="train", pretrained=Path(start), cache=False,
                      patience=epochs + 1, close_mosaic=0, warmup_epochs=0.0, lr0=lr0)
    out = train(cfg)
    best = out / "weights" / "best.pt"
    if not best.is_file():
        best = out / "weights" / "last.pt"
    onnx = export_onnx(best, run_dir / "challenger.onnx", imgsz)

    say(f"scoring challenger and champion on {test_data} [{test_split}]")
    m_new = _score(onnx, test_data, test_split)
    m_old = _score(Path(champ_onnx), test_data, test_split) if Path(champ_onnx).is_file() else None
    params = {"start_weights": str(start), "epochs": epochs, "imgsz": imgsz, "train_images": n_train,
              "reviews_confirmed": reviews.get("confirmed", 0),
              "reviews_false_positive": reviews.get("false_positive", 0),
              "test_data": str(Path(test_data).resolve()), "test_split": test_split}
    version = registry.register(client, store, onnx, best, m_new, params)
    client.set_registered_model_alias(registry.MODEL_NAME, registry.CHALLENGER, version)

    new, old = m_new["all"]["map50"], (m_old["all"]["map50"] if m_old else None)
    champ_label = f"champion v{champ.version}" if champ is not None else "the shipped model"
    if old is None:
        promoted, decision = True, "first version: champion"
    elif new > old:
        promoted, decision = True, f"beat {champ_label} on the same split: mAP50 {new:.4f} > {old:.4f}"
    else:
        promoted, decision = False, f"kept {champ_label}: mAP50 {new:.4f} <= {old:.4f} on the same split"
    if promoted:
        tracking.promote(client, registry.MODEL_NAME, version, by=tracking.current_user(),
                         reason=f"automatic: {decision}")
        if data_dir is not None:
            registry.publish_champion(data_dir, onnx, version, m_new["all"], weights=best)
    else:
        client.set_model_version_tag(registry.MODEL_NAME, version, "not_promoted", decision)
    say(decision)
    return RetrainResult(version=version, promoted=promoted, decision=decision, challenger_map50=new,
                         champion_map50=old, champion_version=str(champ.version) if champ else None,
                         reviews=reviews, train_images=n_train, onnx=onnx)
