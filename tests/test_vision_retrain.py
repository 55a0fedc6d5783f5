"""Review that retrains, on a tiny fixture (18 hard-hat images, one epoch): reviewed events
from the real PostgreSQL join the training data, the fine-tuned challenger is registered in
MLflow (PostgreSQL store) and refused when it is worse than the champion on the fixed split,
promoted (and published to the worker) when it is better.  Needs the [train] extra."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("ultralytics", reason="retraining needs the [train] extra (ultralytics, torch)")

from click.testing import CliRunner  # noqa: E402

from ml import tracking  # noqa: E402
from tests.test_vision_events import _clip, vision_db  # noqa: E402,F401 - the shared camera fixture
from vision import registry  # noqa: E402
from vision.events import clean_snapshot_path  # noqa: E402
from vision.retrain import SHIPPED_WEIGHTS, retrain  # noqa: E402

pytestmark = pytest.mark.slow
TINY = Path(__file__).parent / "data" / "vision-tiny"


@pytest.fixture()
def store(db_factory, tmp_path):
    url = db_factory.create(prefix="qhse_mlflow_vision", migrate=False)
    yield tracking.Store(tracking_uri=url, artifact_root=tmp_path / "mlruns")
    db_factory.drop(url)


def _blind_weights(good: Path, out: Path) -> Path:
    """The shipped weights with the class layer's bias at -20: it finds nothing."""
    import torch

    ckpt = torch.load(good, map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt["model"]
    with torch.no_grad():
        for seq in model.model[-1].cv3:
            seq[-1].bias.fill_(-20.0)
    ckpt["model"], ckpt["ema"] = model, None
    torch.save(ckpt, out)
    return out


def _confirmed_review(engine, tmp_path) -> None:
    """One confirmed no-helmet event whose clean snapshot is a fixture image."""
    img = sorted((TINY / "valid" / "images").iterdir())[0]
    snap = tmp_path / "snaps" / "cam1-ev.jpg"
    snap.parent.mkdir(parents=True)
    shutil.copyfile(img, snap)
    shutil.copyfile(img, clean_snapshot_path(snap))
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as c:
        c.execute(sa.text(
            "INSERT INTO vision_event (camera_id, zone_id, site_id, area_id, label, score, max_score, boxes, "
            "started_at, updated_at, ended_at, snapshot_path, review_status) VALUES (1, 1, 1, 1, 'no_helmet', "
            "0.8, 0.8, :boxes, :t, :t, :t, :snap, 'confirmed')"),
            {"boxes": json.dumps([{"cls": "head", "score": 0.8, "xyxy": [50, 40, 90, 90]}]), "t": now,
             "snap": str(snap)})


def test_retrain_refused_when_worse_promoted_when_better(vision_db, store, tmp_path, monkeypatch):  # noqa: F811
    assert SHIPPED_WEIGHTS.is_file(), "vision/models/ppe_yolo.pt is shipped with the ONNX model"
    _confirmed_review(vision_db, tmp_path)
    blind = _blind_weights(SHIPPED_WEIGHTS, tmp_path / "blind.pt")
    data_dir = tmp_path / "data"
    common = dict(test_data=TINY / "data.yaml", base_data=TINY / "data.yaml", work_dir=tmp_path / "work",
                  engine=vision_db, store=store, data_dir=data_dir, epochs=1, batch=16, lr0=1e-6,
                  say=lambda m: None)

    # 1. a challenger worse than the shipped model: registered, challenger alias, not promoted
    worse = retrain(weights=blind, **common)
    assert worse.reviews == {"confirmed": 1, "false_positive": 0}
    assert worse.train_images == 9  # 8 base images + 1 reviewed event
    assert not worse.promoted and "kept the shipped model" in worse.decision
    assert worse.challenger_map50 < 0.05 < worse.champion_map50
    client = tracking.use_store(store)
    assert tracking.champion_version(client, registry.MODEL_NAME) is None
    mv = client.get_model_version_by_alias(registry.MODEL_NAME, registry.CHALLENGER)
    assert str(mv.version) == worse.version and "kept" in mv.tags["not_promoted"]
    assert registry.published_champion(data_dir) is None

    # the blind version becomes champion by hand; the next retrain from good weights beats it
    tracking.promote(client, registry.MODEL_NAME, worse.version, by="ds.test", reason="manual: test")
    better = retrain(weights=SHIPPED_WEIGHTS, **common)
    assert better.promoted and better.champion_version == worse.version
    assert better.challenger_map50 > better.champion_map50 + 0.2
    assert str(tracking.champion_version(client, registry.MODEL_NAME).version) == better.version
    pub = registry.published_champion(data_dir)
    assert pub["version"] == better.version and Path(pub["onnx"]).is_file() and Path(pub["weights"]).is_file()
    files = registry.version_files(client, better.version)
    assert files["onnx"].is_file() and files["weights"].is_file()

    # qhse vision models lists both, the new one as champion
    from qhse.settings import reset_settings_cache
    from vision.cli import vision

    monkeypatch.setenv("QHSE_MLFLOW_TRACKING_URI", store.tracking_uri)
    monkeypatch.setenv("QHSE_MLRUNS_DIR", str(store.artifact_root))
    reset_settings_cache()
    try:
        res = CliRunner().invoke(vision, ["models", "--json"])
    finally:
        monkeypatch.undo()
        reset_settings_cache()
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["version"] for r in rows] == [better.version, worse.version]
    assert rows[0]["champion"] and rows[0]["challenger"] and not rows[1]["champion"]
    assert rows[0]["test_map50"] == pytest.approx(better.challenger_map50, abs=1e-4)
