"""Test data for the live pages: open alarms (as the ingestion rules would raise them) and
PPE events awaiting review with snapshot files (as the vision worker writes them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa


def add_open_alarms(engine, per_site: int = 2, at: dt.datetime | None = None) -> list[int]:
    """Raise ``per_site`` open alarms on gas sensors of every site (one per rule and sensor)."""
    at = at or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ids = []
    with engine.begin() as conn:
        sensors = conn.execute(sa.text("""
            SELECT DISTINCT ON (s.site_id, s.id) s.id, s.site_id, s.area_id, s.kind, s.unit, r.id AS rule_id,
                   r.severity, r.name, r.threshold
            FROM sensor s JOIN alarm_rule r ON r.sensor_kind = s.kind AND r.kind = 'threshold'
            WHERE s.kind IN ('voc', 'h2s')
              AND NOT EXISTS (SELECT 1 FROM alarm a WHERE a.rule_id = r.id AND a.sensor_id = s.id
                              AND a.cleared_at IS NULL)
            ORDER BY s.site_id, s.id, r.severity""")).mappings().all()
        by_site: dict[int, int] = {}
        for s in sensors:
            if by_site.get(s["site_id"], 0) >= per_site:
                continue
            by_site[s["site_id"]] = by_site.get(s["site_id"], 0) + 1
            v = float(s["threshold"]) * 1.4
            ids.append(conn.execute(sa.text("""
                INSERT INTO alarm (rule_id, sensor_id, site_id, area_id, severity, status, raised_at, updated_at,
                                   first_value, last_value, peak_value, update_count, message)
                VALUES (:r, :s, :site, :area, :sev, 'open', :at, :at, :v, :v, :v, 1, :msg) RETURNING id"""),
                dict(r=s["rule_id"], s=s["id"], site=s["site_id"], area=s["area_id"], sev=s["severity"], at=at, v=v,
                     msg=f"{s['name']}: {v:.1f} {s['unit']}")).scalar_one())
    return ids


def _snapshot(path: Path, label: str) -> Path:
    import cv2
    import numpy as np

    img = np.full((360, 640, 3), (70, 80, 90), np.uint8)
    cv2.rectangle(img, (0, 250), (640, 360), (60, 60, 60), -1)  # floor
    cv2.rectangle(img, (420, 60), (600, 250), (120, 120, 130), -1)  # machine
    cv2.circle(img, (250, 120), 28, (150, 180, 210), -1)  # head
    cv2.rectangle(img, (215, 150), (285, 300), (40, 90, 160), -1)  # body
    cv2.rectangle(img, (210, 85), (292, 305), (0, 0, 255), 3)
    cv2.putText(img, label, (212, 78), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 255), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path.resolve()


def add_review_events(engine, folder: Path, per_camera: int = 2, at: dt.datetime | None = None) -> list[int]:
    """New (unreviewed) PPE events on every camera, each with an annotated snapshot JPEG."""
    at = at or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    ids = []
    with engine.begin() as conn:
        cams = conn.execute(sa.text("""
            SELECT c.id, c.site_id, c.area_id, z.id AS zone_id FROM camera c
            LEFT JOIN camera_zone z ON z.camera_id = c.id ORDER BY c.id""")).mappings().all()
        for c in cams:
            for k in range(per_camera):
                label = "no_helmet" if k % 2 == 0 else "no_vest"
                t = at + dt.timedelta(minutes=3 * k, seconds=c["id"])
                snap = _snapshot(folder / f"cam{c['id']}-{k}.jpg", label)
                ids.append(conn.execute(sa.text("""
                    INSERT INTO vision_event (camera_id, zone_id, site_id, area_id, label, score, max_score, boxes,
                                              track_id, started_at, updated_at, ended_at, snapshot_path, review_status)
                    VALUES (:cam, :zone, :site, :area, :label, 0.81, 0.9,
                            CAST(:boxes AS jsonb), :track, :t, :t, :t, :snap, 'new') RETURNING id"""),
                    dict(cam=c["id"], zone=c["zone_id"], site=c["site_id"], area=c["area_id"], label=label,
                         boxes='[{"cls": "head", "score": 0.9, "xyxy": [210, 85, 292, 305]}]',
                         track=f"t{c['id']}-{k}", t=t, snap=str(snap))).scalar_one())
    return ids
