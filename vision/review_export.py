"""Reviewed vision events -> YOLO dataset (the review-to-retrain loop).

* ``confirmed`` events: the unannotated snapshot with the event's boxes as labels;
* ``false_positive`` events: the unannotated snapshot with an empty label file (a hard
  negative: the detector saw a violation where there was none).

``DIR/images``, ``DIR/labels``, ``DIR/data.yaml`` (the detector's class list) and
``DIR/manifest.csv`` (event id, review status, event label, file) are written.  Events
whose snapshot file is missing are skipped and counted.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from qhse.vocab import ReviewStatus

from .events import clean_snapshot_path
from .prepare_data import CLASSES

EXPORT_STATUSES = (ReviewStatus.CONFIRMED.value, ReviewStatus.FALSE_POSITIVE.value)


@dataclass
class ExportReport:
    out_dir: Path
    written: dict[str, int] = field(default_factory=lambda: {s: 0 for s in EXPORT_STATUSES})
    boxes: int = 0
    missing_snapshot: int = 0
    unknown_classes: int = 0


def export_reviews(engine, out_dir: Path, site_ids: list[int] | None = None,
                   classes: list[str] | None = None) -> ExportReport:
    import cv2
    import sqlalchemy as sa

    from db.models import VisionEvent

    classes = classes or CLASSES
    index = {n: i for i, n in enumerate(classes)}
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    rep = ExportReport(out_dir)
    q = (sa.select(VisionEvent.id, VisionEvent.review_status, VisionEvent.label, VisionEvent.boxes,
                   VisionEvent.snapshot_path)
         .where(VisionEvent.review_status.in_(EXPORT_STATUSES)).order_by(VisionEvent.id))
    if site_ids:
        q = q.where(VisionEvent.site_id.in_(site_ids))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    manifest = out_dir / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["event_id", "review_status", "label", "image", "boxes"])
        for r in rows:
            if not r.snapshot_path:
                rep.missing_snapshot += 1
                continue
            src = clean_snapshot_path(r.snapshot_path)
            if not src.is_file():
                rep.missing_snapshot += 1
                continue
            img = cv2.imread(str(src))
            if img is None:
                rep.missing_snapshot += 1
                continue
            h, w = img.shape[:2]
            stem = f"event{r.id}"
            dst = out_dir / "images" / f"{stem}{src.suffix}"
            shutil.copyfile(src, dst)
            lines = []
            if r.review_status == ReviewStatus.CONFIRMED:
                for b in r.boxes or []:
                    cls = b.get("cls")
                    if cls not in index:
                        rep.unknown_classes += 1
                        continue
                    x1, y1, x2, y2 = (float(v) for v in b["xyxy"])
                    x1, x2 = max(0.0, min(x1, w)), max(0.0, min(x2, w))
                    y1, y2 = max(0.0, min(y1, h)), max(0.0, min(y2, h))
                    if x2 <= x1 or y2 <= y1:
                        continue
                    lines.append(f"{index[cls]} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                                 f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
            (out_dir / "labels" / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
            rep.written[r.review_status] += 1
            rep.boxes += len(lines)
            wr.writerow([r.id, r.review_status, r.label, dst.name, len(lines)])
    (out_dir / "data.yaml").write_text(yaml.safe_dump(
        {"path": str(out_dir.resolve()), "train": "images", "val": "images",
         "nc": len(classes), "names": list(classes)}, sort_keys=False))
    return rep
