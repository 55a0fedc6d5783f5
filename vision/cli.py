"""``qhse vision ...`` commands.  Heavy imports happen inside the commands."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from qhse.cli.support import UserError


def _clean(obj):
    """JSON-safe: NaN -> null, numpy scalars -> float."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float) or hasattr(obj, "item"):
        v = float(obj)
        return None if math.isnan(v) else round(v, 6)
    return obj


def _detector(model: Path | None, conf: float = 0.25, threads: int | None = None):
    from vision.detector import DetectorError, load_detector

    try:
        return load_detector(model, conf_threshold=conf, threads=threads)
    except DetectorError as exc:
        raise UserError(str(exc)) from None


@click.group()
def vision() -> None:
    """PPE vision: cameras, detector, events, training and evaluation."""


@vision.command("prepare-data")
@click.option("--source-root", type=click.Path(path_type=Path, file_okay=False), default=Path("../shared/data"),
              show_default=True, help="Folder holding ppe-hardhat/ (and ppe-hardhat-extra/) and ppe-vest/.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("runs/train-data"),
              show_default=True)
@click.option("--eval-source", "eval_sources", multiple=True, default=("ppe-hardhat",), show_default=True,
              help="Sources whose valid/test splits are kept (the others give train images only).")
@click.option("--person-labels", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="COCO detector (ONNX) whose confident persons are added to the train labels.")
def prepare_data_cmd(source_root: Path, out: Path, eval_sources, person_labels: Path | None) -> None:
    """Merge the hard-hat and vest datasets into one YOLO dataset (classes head, helmet, person, vest, no_vest)."""
    from vision.prepare_data import DataPrepError, add_pseudo_labels, default_sources, prepare

    sources = default_sources(source_root)
    missing = [str(p) for p in sources.values() if not p.is_dir()]
    if missing:
        raise UserError(f"dataset folder(s) not found: {', '.join(missing)}")
    try:
        rep = prepare(sources, out, eval_sources=set(eval_sources) or None)
    except DataPrepError as exc:
        raise UserError(str(exc)) from None
    for split, n in rep.images.items():
        boxes = ", ".join(f"{k} {v}" for k, v in rep.boxes[split].items())
        click.echo(f"{split:<6} {n:>5} images  ({boxes})")
    if person_labels is not None:
        from vision.detector import OnnxDetector

        added = add_pseudo_labels(Path(out) / "train", OnnxDetector(person_labels, conf_threshold=0.5, threads=1))
        click.echo(f"train: {added} person boxes added from {person_labels}")
    click.echo(f"wrote {rep.data_yaml}")


@vision.command("train")
@click.option("--data", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--model", default="yolo11n.yaml", show_default=True, help="Model definition (trained from scratch).")
@click.option("--imgsz", type=int, default=320, show_default=True)
@click.option("--epochs", type=int, default=100, show_default=True)
@click.option("--hours", type=float, default=None, help="Fit the run into this many hours (epochs re-estimated).")
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--project", type=click.Path(path_type=Path), default=Path("runs"), show_default=True)
@click.option("--name", default="ppe", show_default=True)
@click.option("--resume", is_flag=True, help="Continue the run in PROJECT/NAME from its last checkpoint.")
@click.option("--pretrained", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Start weights: an Ultralytics .pt, or the COCO YOLO11n .onnx in ../shared/weights.")
@click.option("--workers", type=int, default=0, show_default=True, help="Data-loader worker processes.")
def train_cmd(data, model, imgsz, epochs, hours, batch, threads, project, name, resume, pretrained, workers) -> None:
    """Train the PPE detector with Ultralytics (needs the [train] extra)."""
    from vision.training import TrainConfig, TrainingUnavailable, train

    cfg = TrainConfig(data=data, model=model, imgsz=imgsz, epochs=epochs, hours=hours, batch=batch,
                      threads=threads, project=project, name=name, pretrained=pretrained, workers=workers)
    try:
        run_dir = train(cfg, resume=resume)
    except (TrainingUnavailable, FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    click.echo(f"run folder: {run_dir}")


@vision.command("export")
@click.option("--weights", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=Path("vision/models/ppe_yolo.onnx"),
              show_default=True)
@click.option("--imgsz", type=int, default=None, help="Input size (default: the training size).")
def export_cmd(weights: Path, out: Path, imgsz: int | None) -> None:
    """Export a checkpoint to ONNX for the CPU detector."""
    from vision.training import TrainingUnavailable, export_onnx

    try:
        path = export_onnx(weights, out, imgsz)
    except TrainingUnavailable as exc:
        raise UserError(str(exc)) from None
    click.echo(f"wrote {path}")


def print_metrics_table(res: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{res['all'].get('images', 0)} images")
    for col in ("class", "instances", "precision", "recall", "mAP50", "mAP50-95"):
        t.add_column(col, justify="left" if col == "class" else "right")

    def fmt(v):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"

    a = res["all"]
    t.add_row("all", str(a["instances"]), fmt(a["precision"]), fmt(a["recall"]), fmt(a["map50"]), fmt(a["map50_95"]))
    for name, m in res["classes"].items():
        t.add_row(name, str(m["instances"]), fmt(m["precision"]), fmt(m["recall"]), fmt(m["map50"]),
                  fmt(m["map50_95"]))
    Console().print(t)


@vision.command("evaluate")
@click.option("--data", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--split", default="test", show_default=True)
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="ONNX model (default: the shipped vision/models/ppe_yolo.onnx).")
@click.option("--conf", type=float, default=0.25, show_default=True, help="Threshold for precision/recall.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_cmd(data: Path, split: str, model: Path | None, conf: float, as_json: bool) -> None:
    """mAP50, mAP50-95, precision and recall per class through the project's ONNX path."""
    from tqdm import tqdm

    from vision.evaluate import DatasetError, evaluate

    det = _detector(model)
    try:
        res = evaluate(det, data, split, conf=conf,
                       progress=lambda xs: tqdm(xs, desc=f"evaluate {split}", unit="img", file=sys.stderr,
                                                disable=None))
    except DatasetError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        out = _clean(res)
        out["all"] = {k: out["all"][k] for k in ("map50", "map50_95", "precision", "recall", "instances", "images")}
        click.echo(json.dumps(out))
    else:
        print_metrics_table(res)


@vision.command("detect")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--conf", type=float, default=0.25, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--save-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write annotated copies here.")
def detect_cmd(images, model, conf, as_json, save_dir) -> None:
    """Print the detections for single images."""
    import cv2

    det = _detector(model, conf)
    results = []
    failed = 0
    for p in images:
        frame = cv2.imread(str(p)) if p.is_file() else None
        if frame is None:
            failed += 1
            click.echo(f"error: cannot read image {p}", err=True)
            results.append({"image": str(p), "error": "cannot read image"})
            continue
        dets = det.detect(frame)
        results.append({"image": str(p), "width": frame.shape[1], "height": frame.shape[0],
                        "detections": [d.to_dict() for d in dets]})
        if save_dir:
            from vision.events import COLORS

            save_dir.mkdir(parents=True, exist_ok=True)
            img = frame.copy()
            for d in dets:
                x1, y1, x2, y2 = (int(v) for v in d.xyxy)
                cv2.rectangle(img, (x1, y1), (x2, y2), COLORS.get(d.label, (200, 200, 200)), 2)
                cv2.putText(img, f"{d.label} {d.score:.2f}", (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                            COLORS.get(d.label, (200, 200, 200)), 1, cv2.LINE_AA)
            cv2.imwrite(str(save_dir / p.name), img)
        if not as_json:
            click.echo(f"{p}: {len(dets)} detection(s)")
            for d in dets:
                click.echo(f"  {d.label:<8} {d.score:.2f}  [{', '.join(f'{v:.0f}' for v in d.xyxy)}]")
    if as_json:
        click.echo(json.dumps(results if len(results) > 1 else results[0]))
    if failed:
        sys.exit(1)


@vision.command("run")
@click.option("--camera", "camera_ids", type=int, multiple=True, help="Only these camera ids (repeatable).")
@click.option("--duration", type=float, default=None, help="Stop after this many seconds (default: run until Ctrl+C).")
@click.option("--model", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--threads", type=int, default=None, help="Detector threads.")
def run_cmd(camera_ids, duration, model, threads) -> None:
    """Run the vision worker on the enabled cameras of the database."""
    import logging

    from db.engine import get_engine
    from qhse.cli.support import database_url
    from vision.detector import DetectorError
    from vision.worker import run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = database_url(migrate=True)

    last = {"t": -10.0}

    def progress(elapsed, runners):
        if elapsed - last["t"] >= 10:
            last["t"] = elapsed
            frames = sum(r.pipeline.stats.frames for r in runners)
            events = sum(r.writer.written["start"] for r in runners)
            click.echo(f"[{elapsed:6.0f}s] {len(runners)} camera(s), {frames} frames, {events} events", err=True)

    try:
        res = run(duration, engine=get_engine(url), camera_ids=list(camera_ids) or None, model_path=model,
                  threads=threads, progress=progress)
    except DetectorError as exc:
        raise UserError(str(exc)) from None
    if not res["cameras"]:
        click.echo("no enabled camera in the database (add rows to camera / camera_zone)", err=True)
    for cid, s in res["cameras"].items():
        click.echo(f"camera {cid} {s['name']}: {s['frames']} frames, {s['detect_runs']} detections runs, "
                   f"{s['events_started']} events, {s['reconnects']} reconnects")


@vision.command("export-reviews")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--site", "site_ids", type=int, multiple=True, help="Only these site ids.")
def export_reviews_cmd(out_dir: Path, site_ids) -> None:
    """Write confirmed and false-positive events as a YOLO dataset."""
    from db.engine import get_engine
    from qhse.cli.support import database_url
    from vision.review_export import export_reviews

    url = database_url()
    rep = export_reviews(get_engine(url), out_dir, list(site_ids) or None)
    click.echo(f"confirmed {rep.written['confirmed']}, false positives {rep.written['false_positive']}, "
               f"{rep.boxes} boxes; {rep.missing_snapshot} event(s) without snapshot skipped -> {out_dir}")


@vision.command("retrain")
@click.option("--test-data", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Fixed split the challenger and the champion are scored on (data.yaml).")
@click.option("--split", "test_split", default="test", show_default=True)
@click.option("--base-data", required=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Base training data (data.yaml from prepare-data); its valid split validates the run.")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where runs go (default: <data dir>/vision-retrain).")
@click.option("--weights", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Start weights instead of the champion's.")
@click.option("--epochs", type=int, default=3, show_default=True)
@click.option("--imgsz", type=int, default=320, show_default=True)
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--lr0", type=float, default=None, help="AdamW learning rate (default: Ultralytics' choice).")
@click.option("--no-reviews", is_flag=True, help="Do not read reviewed events from the database.")
@click.option("--json", "as_json", is_flag=True)
def retrain_cmd(test_data, test_split, base_data, work_dir, weights, epochs, imgsz, batch, threads, lr0,
                no_reviews, as_json) -> None:
    """Fine-tune the champion on base data + reviewed events; promote it only if it is better."""
    from qhse.settings import get_settings
    from vision.retrain import RetrainError, retrain
    from vision.training import TrainingUnavailable

    settings = get_settings()
    data_dir = settings.ensure_data_dir()
    engine = None
    if not no_reviews:
        from db.engine import get_engine
        from qhse.cli.support import database_url

        engine = get_engine(database_url())
    say = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    try:
        res = retrain(test_data=test_data, base_data=base_data, work_dir=work_dir or data_dir / "vision-retrain",
                      engine=engine, data_dir=data_dir, weights=weights, test_split=test_split, epochs=epochs,
                      imgsz=imgsz, batch=batch, threads=threads, lr0=lr0, say=say)
    except (RetrainError, TrainingUnavailable, FileNotFoundError) as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(_clean(res.as_dict()), indent=1))
    else:
        click.echo(f"version {res.version}: {'promoted' if res.promoted else 'not promoted'} ({res.decision})")


@vision.command("models")
@click.option("--json", "as_json", is_flag=True)
def models_cmd(as_json: bool) -> None:
    """List the PPE detector versions in the registry (champion, challenger, test mAP50)."""
    from ml import tracking
    from vision.registry import list_versions

    rows = list_versions(tracking.use_store(tracking.resolve_store()))
    if as_json:
        click.echo(json.dumps(_clean(rows), indent=1))
        return
    if not rows:
        click.echo("no PPE detector versions yet (qhse vision retrain)")
        return
    for r in rows:
        flags = ",".join(f for f in ("champion", "challenger") if r[f]) or "-"
        m = f"{r['test_map50']:.3f}" if r["test_map50"] is not None else "n/a"
        click.echo(f"v{r['version']:>3}  {flags:<20} test mAP50 {m}  {r['created']}  {r['decision'] or ''}")
