"""Point-in-time features, labels and the time split, on the seeded demo database."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from ml import features as F

from .conftest import SEED_END


def _machine_asset(conn) -> int:
    return F.machine_assets(conn)[0]


def _prediction_time() -> dt.datetime:
    # A weekday, mid-shift (10:00 UTC = 18:00 local): the last hours before t are running.
    t = SEED_END - dt.timedelta(days=60)
    while t.weekday() >= 5:
        t -= dt.timedelta(days=1)
    return t.replace(hour=10)


def _features_only(df: pd.DataFrame) -> pd.DataFrame:
    return df[F.FEATURES].astype(float)


def test_no_reading_or_event_after_t_is_used(seeded_engine):
    """Build features at t; rewrite every reading at or after t and add maintenance after t:
    the features must not move. Rewriting readings just before t must move them (so the
    check can fail)."""
    t = _prediction_time()
    with seeded_engine.connect() as conn:
        trans = conn.begin()
        try:
            asset = _machine_asset(conn)
            before = F.build_snapshots(conn, [asset], [t])
            assert len(before) == 1
            assert before["running_hours_24h"].iloc[0] > 0
            assert not before[F.FEATURES].isna().all(axis=1).iloc[0]
            sensor_ids = [r[0] for r in conn.execute(
                sa.text("SELECT id FROM sensor WHERE asset_id = :a"), {"a": asset})]
            changed = conn.execute(
                sa.text("UPDATE sensor_reading SET value = value * 7 + 500 "
                        "WHERE sensor_id = ANY(:s) AND ts >= :t AND ts < :t + interval '10 days'"),
                {"s": sensor_ids, "t": t},
            ).rowcount
            assert changed > 0
            conn.execute(
                sa.text("UPDATE sensor_reading_hourly SET avg = avg * 7 + 500, max = max * 7 + 500 "
                        "WHERE sensor_id = ANY(:s) AND bucket >= :t - interval '1 hour'"),
                {"s": sensor_ids, "t": t},
            )
            # A reading exactly at t belongs to the future too.
            conn.execute(
                sa.text("INSERT INTO sensor_reading (sensor_id, ts, value, quality) "
                        "SELECT id, :t, 99999, 0 FROM sensor WHERE asset_id = :a "
                        "ON CONFLICT (sensor_id, ts) DO UPDATE SET value = 99999"),
                {"t": t, "a": asset},
            )
            conn.execute(
                sa.text("INSERT INTO maintenance_event (asset_id, kind, started_at, ended_at) VALUES "
                        "(:a, 'preventive', :t1, :t2), (:a, 'tool_change', :t1, :t2)"),
                {"a": asset, "t1": t + dt.timedelta(minutes=1), "t2": t + dt.timedelta(hours=2)},
            )
            after = F.build_snapshots(conn, [asset], [t])
            pd.testing.assert_frame_equal(_features_only(before), _features_only(after))
            assert after["last_bucket"].iloc[0] < pd.Timestamp(t)

            # Sensitivity: the hour just before t is used.
            conn.execute(
                sa.text("UPDATE sensor_reading SET value = value + 50 "
                        "WHERE sensor_id = ANY(:s) AND ts >= :t - interval '1 hour' AND ts < :t"),
                {"s": sensor_ids, "t": t},
            )
            moved = F.build_snapshots(conn, [asset], [t])
            assert not np.allclose(
                _features_only(before).to_numpy(), _features_only(moved).to_numpy(), equal_nan=True
            )
        finally:
            trans.rollback()


def test_label_is_failure_within_horizon_after_t(seeded_engine):
    with seeded_engine.begin() as conn:
        row = conn.execute(sa.text(
            """SELECT f.asset_id, f.occurred_at FROM failure_event f
               WHERE NOT EXISTS (SELECT 1 FROM failure_event g WHERE g.asset_id = f.asset_id AND g.id <> f.id
                                 AND abs(extract(epoch FROM g.occurred_at - f.occurred_at)) < 40 * 86400)
                 AND f.occurred_at > (SELECT min(ts) FROM sensor_reading) + interval '30 days'
               ORDER BY f.occurred_at LIMIT 1""")).one()
        asset, when = row
        floor = when.replace(minute=0, second=0, microsecond=0)
        ceil = floor if floor == when else floor + dt.timedelta(hours=1)
        times = [floor - dt.timedelta(days=8), floor - dt.timedelta(days=6), floor - dt.timedelta(hours=1),
                 ceil, ceil + dt.timedelta(hours=1)]
        df = F.build_snapshots(conn, [asset] * len(times), times, horizon_days=7)
    assert df["label"].tolist() == [0, 1, 1, 0, 0]


def test_mixed_prediction_times_must_be_whole_hours(seeded_engine):
    t = _prediction_time()
    with seeded_engine.begin() as conn:
        asset = _machine_asset(conn)
        with pytest.raises(F.FeatureError, match="whole hours"):
            F.build_snapshots(conn, [asset, asset], [t, t + dt.timedelta(minutes=30)])


def test_time_split_has_horizon_gaps_and_keeps_order():
    times = pd.Series(pd.date_range("2026-01-01", "2026-12-31", freq="12h", tz="UTC"))
    train, val, hold = F.time_split(times, horizon_days=7)
    assert train.sum() and val.sum() and hold.sum()
    assert not (train & val).any() and not (val & hold).any()
    gap = pd.Timedelta(days=7)
    assert times[val].min() - times[train].max() >= gap
    assert times[hold].min() - times[val].max() >= gap
    with pytest.raises(F.FeatureError):
        F.time_split(times[:20], horizon_days=7)


def test_training_snapshots_censor_the_last_horizon(seeded_engine):
    td = F.training_snapshots(seeded_engine, horizon_days=7, step_hours=24,
                              start=SEED_END - dt.timedelta(days=60))
    df = td.frame
    assert td.censored > 0
    assert (df["t"] + pd.Timedelta(days=7) <= pd.Timestamp(td.data_end)).all()
    assert set(df["label"].unique()) <= {0, 1}
    assert list(df.columns[-len(F.FEATURES):]) == F.FEATURES
