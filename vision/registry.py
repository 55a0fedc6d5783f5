"""PPE detector versions: MLflow registry (champion / challenger aliases) and the
champion file the vision worker runs.

* Every retrained detector is a version of the registered model ``qhse-ppe-detector``
  (artifacts ``model/model.onnx`` and ``model/weights.pt``; tags with its test figures)
  and gets the ``challenger`` alias; it becomes ``champion`` only when it beats the
  champion on the same fixed split (the rule of the failure models, ``ml.train``).
* The champion is also *published* under the data directory
  (``<data dir>/models/vision/champion.json`` + the ONNX file it names), so the worker
  needs no MLflow: :class:`ChampionDetector` checks that file every few seconds and swaps
  in a new champion between two frames, without a restart.  Without a published champion
  the shipped ``vision/models/ppe_yolo.onnx`` runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from ml import tracking

log = logging.getLogger(__name__)

MODEL_NAME = "qhse-ppe-detector"
CHALLENGER = "challenger"


def champion_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models" / "vision"


def champion_marker(data_dir: Path) -> Path:
    return champion_dir(data_dir) / "champion.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def publish_champion(data_dir: Path, onnx_path: Path, version: str, metrics: dict | None = None,
                     weights: Path | None = None) -> Path:
    """Copy ``onnx_path`` (and ``weights``) under the data dir and point champion.json at it."""
    folder = champion_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"ppe-v{version}.onnx"
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(onnx_path, tmp)
    tmp.replace(target)
    info = {
        "version": str(version),
        "onnx": target.name,
        "sha256": _sha256(target),
        "published_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "metrics": metrics or {},
    }
    if weights is not None and Path(weights).is_file():
        wt = folder / f"ppe-v{version}.pt"
        shutil.copyfile(weights, wt)
        info["weights"] = wt.name
    marker = champion_marker(data_dir)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, marker)
    return marker


def published_champion(data_dir: Path) -> dict | None:
    """champion.json with absolute ``onnx`` / ``weights`` paths, or None."""
    marker = champion_marker(data_dir)
    try:
        info = json.loads(marker.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    folder = marker.parent
    info["onnx"] = str(folder / info["onnx"])
    if info.get("weights"):
        info["weights"] = str(folder / info["weights"])
    return info


class ChampionDetector:
    """The published champion, reloaded when champion.json changes (checked at most every
    ``check_s`` seconds by :meth:`maybe_reload`).  A champion that fails to load is logged
    and the running model is kept."""

    def __init__(self, data_dir: Path, fallback: Path | None = None, check_s: float = 5.0, **detector_kw):
        from .detector import DEFAULT_MODEL

        self.data_dir = Path(data_dir)
        self.fallback = Path(fallback) if fallback else DEFAULT_MODEL
        self.check_s = check_s
        self.detector_kw = detector_kw
        self.reloads = 0
        self.version: str | None = None
        self._stamp: tuple | None = None
        self._last_check = 0.0
        self._lock = threading.Lock()
        self._current = self._load_initial()

    def _marker_stamp(self) -> tuple | None:
        try:
            st = champion_marker(self.data_dir).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def _load(self, path: Path):
        from .detector import load_detector

        return load_detector(path, **self.detector_kw)

    def _load_initial(self):
        self._stamp = self._marker_stamp()
        info = published_champion(self.data_dir) if self._stamp else None
        if info:
            try:
                det = self._load(Path(info["onnx"]))
                self.version = info["version"]
                log.info("vision: champion v%s (%s)", self.version, info["onnx"])
                return det
            except Exception as exc:  # noqa: BLE001 - fall back to the shipped model
                log.error("vision: published champion unusable (%s); running %s", exc, self.fallback)
        self.version = None
        return self._load(self.fallback)

    def maybe_reload(self, force: bool = False) -> bool:
        """Swap in a newly published champion; True when the model changed."""
        now = time.monotonic()
        if not force and now - self._last_check < self.check_s:
            return False
        self._last_check = now
        stamp = self._marker_stamp()
        if stamp == self._stamp:
            return False
        with self._lock:
            self._stamp = stamp
            info = published_champion(self.data_dir)
            if not info or info["version"] == self.version:
                return False
            try:
                det = self._load(Path(info["onnx"]))
            except Exception as exc:  # noqa: BLE001 - keep the running model
                log.error("vision: champion v%s not loaded (%s); keeping v%s", info["version"], exc, self.version)
                return False
            old = self.version
            self._current = det  # one attribute store: camera threads see the old or the new model
            self.version = info["version"]
            self.reloads += 1
            log.info("vision: champion v%s replaces v%s without restart", self.version, old or "shipped")
            return True

    # -- the Detector interface, delegated to the current model --
    @property
    def names(self) -> list[str]:
        return self._current.names

    @property
    def imgsz(self) -> int:
        return self._current.imgsz

    def detect(self, frame, conf_threshold: float | None = None):
        return self._current.detect(frame, conf_threshold)

    def raw(self, frame, conf_threshold: float | None = None):
        return self._current.raw(frame, conf_threshold)


# -- MLflow registry ---------------------------------------------------------------------

def register(client, store, onnx_path: Path, weights: Path | None, metrics: dict, params: dict) -> str:
    """Log a run with the model files and figures, create a registry version; returns it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    exp_id = tracking.ensure_experiment(client, store, MODEL_NAME)
    flat = {"test_map50": metrics["all"]["map50"], "test_map50_95": metrics["all"]["map50_95"]}
    for cls, m in metrics.get("classes", {}).items():
        if m.get("instances"):
            flat[f"test_map50_{cls}"] = m["map50"]
    with mlflow.start_run(experiment_id=exp_id, run_name=f"ppe-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in flat.items()})
        mlflow.log_dict(metrics, "test_metrics.json")
        tmpdir = Path(store.artifact_root) / ".staging" / run.info.run_id
        tmpdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_path, tmpdir / "model.onnx")
        if weights is not None and Path(weights).is_file():
            shutil.copyfile(weights, tmpdir / "weights.pt")
        mlflow.log_artifacts(str(tmpdir), "model")
        shutil.rmtree(tmpdir, ignore_errors=True)
        run_id = run.info.run_id
        source = f"{run.info.artifact_uri}/model"
    try:
        client.get_registered_model(MODEL_NAME)
    except MlflowException:
        client.create_registered_model(MODEL_NAME)
    mv = client.create_model_version(MODEL_NAME, source=source, run_id=run_id)
    version = str(mv.version)
    for k, v in flat.items():
        client.set_model_version_tag(MODEL_NAME, version, k, f"{v:.6f}")
    for k in ("test_data", "test_split"):
        if k in params:
            client.set_model_version_tag(MODEL_NAME, version, k, str(params[k]))
    client.set_model_version_tag(MODEL_NAME, version, "trained_by", tracking.current_user())
    return version


def version_files(client, version: str) -> dict[str, Path]:
    """Local copies of a version's ``model.onnx`` / ``weights.pt``."""
    import mlflow

    mv = client.get_model_version(MODEL_NAME, str(version))
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=mv.source))
    out = {}
    for key, name in (("onnx", "model.onnx"), ("weights", "weights.pt")):
        if (local / name).is_file():
            out[key] = local / name
    return out


def list_versions(client) -> list[dict]:
    from mlflow.exceptions import MlflowException

    try:
        versions = client.search_model_versions(f"name = '{MODEL_NAME}'")
    except MlflowException:
        return []
    champ = tracking.champion_version(client, MODEL_NAME)
    try:
        chall = client.get_model_version_by_alias(MODEL_NAME, CHALLENGER)
    except MlflowException:
        chall = None
    out = []
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        tags = v.tags or {}
        out.append({
            "version": str(v.version),
            "champion": champ is not None and str(champ.version) == str(v.version),
            "challenger": chall is not None and str(chall.version) == str(v.version),
            "created": dt.datetime.fromtimestamp(v.creation_timestamp / 1000, dt.UTC).isoformat(timespec="seconds"),
            "test_map50": float(tags["test_map50"]) if "test_map50" in tags else None,
            "test_split": tags.get("test_data"),
            "decision": tags.get("promotion_reason") or tags.get("not_promoted"),
        })
    return out
