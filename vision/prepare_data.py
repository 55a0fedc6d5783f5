"""Build one YOLO training set from the hard-hat and safety-vest datasets.

The two sources use different class lists; both are mapped onto the platform's PPE
classes (``CLASSES``).  Images are linked (or copied where links are not possible) into
``<out>/{train,valid,test}/images`` with a per-source file-name prefix, and label files are
rewritten with the merged class ids.  Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

#: Class list of the shipped detector, in id order.
CLASSES: list[str] = ["head", "helmet", "person", "vest", "no_vest"]

#: Source class name -> merged class name, per known source dataset.
#: In the vest set ``no_helmet`` marks a bare head and ``helmet`` a hard hat.
SOURCE_CLASS_MAP: dict[str, dict[str, str]] = {
    "ppe-hardhat": {"head": "head", "helmet": "helmet", "person": "person"},
    "ppe-hardhat-extra": {"head": "head", "helmet": "helmet", "person": "person"},
    "ppe-vest": {"helmet": "helmet", "vest": "vest", "no_helmet": "head", "no_vest": "no_vest"},
}

#: Class names of sources that ship no ``data.yaml`` (the rest of the hard-hat train split
#: uses the ids of ../ppe-hardhat/data.yaml, see its SOURCE.txt).
SOURCE_NAMES: dict[str, list[str]] = {"ppe-hardhat-extra": ["head", "helmet", "person"]}

SPLITS = ("train", "valid", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class DataPrepError(ValueError):
    """A source dataset is missing or malformed."""


@dataclass
class PrepReport:
    out_dir: Path
    images: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped_lines: int = 0

    @property
    def data_yaml(self) -> Path:
        return self.out_dir / "data.yaml"


def read_class_names(source_dir: Path) -> list[str]:
    """Class names of a YOLO dataset folder from its ``data.yaml``."""
    data_yaml = source_dir / "data.yaml"
    if not data_yaml.is_file():
        raise DataPrepError(f"{data_yaml} not found")
    cfg = yaml.safe_load(data_yaml.read_text()) or {}
    names = cfg.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise DataPrepError(f"{data_yaml} has no class names")
    return [str(n) for n in names]


def _link(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copy2(src, dst)


def prepare(
    sources: dict[str, Path],
    out_dir: Path,
    class_map: dict[str, dict[str, str]] | None = None,
    classes: list[str] | None = None,
    eval_sources: set[str] | None = None,
) -> PrepReport:
    """Merge YOLO datasets ``sources`` (name -> folder) into ``out_dir``.

    ``class_map[name]`` maps each source class name to a merged class name; a source
    class mapped to nothing is dropped (with its boxes).  ``eval_sources``: when given, only
    these sources contribute to the valid and test splits (the others give train only).
    """
    class_map = class_map or SOURCE_CLASS_MAP
    classes = classes or CLASSES
    index = {name: i for i, name in enumerate(classes)}
    out_dir = Path(out_dir)
    report = PrepReport(out_dir=out_dir)
    for split in SPLITS:
        (out_dir / split / "images").mkdir(parents=True, exist_ok=True)
        (out_dir / split / "labels").mkdir(parents=True, exist_ok=True)
        report.images[split] = 0
        report.boxes[split] = {c: 0 for c in classes}

    for src_name, src_dir in sources.items():
        src_dir = Path(src_dir)
        if src_name not in class_map:
            raise DataPrepError(f"no class mapping for source {src_name!r}")
        if src_name in SOURCE_NAMES and not (src_dir / "data.yaml").is_file():
            names = SOURCE_NAMES[src_name]
        else:
            names = read_class_names(src_dir)
        id_map: dict[int, int] = {}
        for i, n in enumerate(names):
            target = class_map[src_name].get(n)
            if target is None:
                continue
            if target not in index:
                raise DataPrepError(f"{src_name}: class {n!r} maps to unknown class {target!r}")
            id_map[i] = index[target]
        for split in SPLITS:
            img_dir = src_dir / split / "images"
            lbl_dir = src_dir / split / "labels"
            if not img_dir.is_dir():
                continue
            if split != "train" and eval_sources is not None and src_name not in eval_sources:
                continue
            for img in sorted(img_dir.iterdir()):
                if img.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                stem = f"{src_name}__{img.stem}"
                out_lines: list[str] = []
                lbl = lbl_dir / f"{img.stem}.txt"
                if lbl.is_file():
                    for line in lbl.read_text().splitlines():
                        parts = line.split()
                        if not parts:
                            continue
                        try:
                            cls = int(parts[0])
                            coords = [float(v) for v in parts[1:5]]
                        except ValueError:
                            report.skipped_lines += 1
                            continue
                        if len(coords) != 4 or cls not in id_map:
                            report.skipped_lines += 1 if len(coords) != 4 else 0
                            continue
                        new = id_map[cls]
                        out_lines.append(f"{new} " + " ".join(f"{v:.6f}" for v in coords))
                        report.boxes[split][classes[new]] += 1
                _link(img, out_dir / split / "images" / f"{stem}{img.suffix.lower()}")
                (out_dir / split / "labels" / f"{stem}.txt").write_text(
                    "\n".join(out_lines) + ("\n" if out_lines else "")
                )
                report.images[split] += 1

    data = {
        "path": str(out_dir.resolve()),
        "train": "train/images",
        "val": "valid/images",
        "test": "test/images",
        "nc": len(classes),
        "names": list(classes),
    }
    report.data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    return report


def default_sources(data_root: Path) -> dict[str, Path]:
    """The hard-hat set (plus the rest of its train split when present) and the vest set."""
    names = ["ppe-hardhat", "ppe-hardhat-extra", "ppe-vest"]
    return {n: Path(data_root) / n for n in names if n != "ppe-hardhat-extra" or (Path(data_root) / n).is_dir()}


def add_pseudo_labels(
    split_dir: Path,
    detector,
    source_class: str = "person",
    target_id: int = 2,
    conf: float = 0.5,
    iou_known: float = 0.45,
) -> int:
    """Add ``source_class`` boxes found by ``detector`` (e.g. the COCO model) as labels.

    The hard-hat set labels persons sparsely; a COCO detector's confident persons fill the
    gaps of the *train* split so that training does not learn real persons as background.
    A box overlapping a labelled one of the same class (IoU > ``iou_known``) is not added.
    Returns the number of boxes added.  Never use this on valid or test splits.
    """
    import cv2
    import numpy as np

    from vision.detector import box_iou

    split_dir = Path(split_dir)
    added = 0
    for img_path in sorted((split_dir / "images").iterdir()):
        if img_path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        frame = cv2.imread(str(img_path))
        if frame is None:
            continue
        h, w = frame.shape[:2]
        found = [d for d in detector.detect(frame, conf) if d.label == source_class]
        if not found:
            continue
        lbl = split_dir / "labels" / f"{img_path.stem}.txt"
        lines = lbl.read_text().splitlines() if lbl.is_file() else []
        known = []
        for line in lines:
            parts = line.split()
            if len(parts) >= 5 and int(parts[0]) == target_id:
                cx, cy, bw, bh = (float(v) for v in parts[1:5])
                known.append([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h])
        new_lines = []
        for d in found:
            x1, y1, x2, y2 = max(0.0, d.xyxy[0]), max(0.0, d.xyxy[1]), min(w, d.xyxy[2]), min(h, d.xyxy[3])
            if x2 - x1 < 2 or y2 - y1 < 2:
                continue
            if known and box_iou(np.array([[x1, y1, x2, y2]]), np.array(known)).max() > iou_known:
                continue
            known.append([x1, y1, x2, y2])
            new_lines.append(
                f"{target_id} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
            )
        if new_lines:
            lbl.write_text("\n".join(lines + new_lines) + "\n")
            added += len(new_lines)
    return added


if __name__ == "__main__":  # pragma: no cover - convenience entry for the training venv
    import sys

    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(".qhse/train-data")
    rep = prepare(default_sources(root), out, eval_sources={"ppe-hardhat"})
    print(rep.data_yaml, rep.images, rep.boxes, "skipped", rep.skipped_lines)
    if len(sys.argv) > 3:  # third argument: COCO ONNX model for person pseudo-labels on train
        from vision.detector import OnnxDetector

        coco = OnnxDetector(Path(sys.argv[3]), conf_threshold=0.5, threads=1)
        print("person pseudo-labels added:", add_pseudo_labels(out / "train", coco))
