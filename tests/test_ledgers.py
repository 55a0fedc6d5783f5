"""Compliance ledgers on the demo data: CSV and PDF totals match the source tables, every line traceable."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

from qhse.domain import ledgers as D
from qhse.domain.access import Scope
from qhse.services import ledgers as L

SITE = "SZ-ELEC"
START, END = dt.date(2026, 8, 1), dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def bounds(seeded_engine):
    with seeded_engine.connect() as conn:
        site_id, tz = conn.execute(sa.text("SELECT id, timezone FROM site WHERE code = :c"), {"c": SITE}).one()
    t0, t1 = D.period_bounds(START, END, tz)
    return {"site": site_id, "t0": t0, "t1": t1, "d0": START, "d1": END}


def _scalar(engine, sql, **p):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), p).scalar()


def _source_truth(engine, kind, b) -> dict:
    """Totals computed straight from the source tables, independently of the ledger code."""
    if kind == "training":
        return {
            "lines": _scalar(engine, """SELECT count(*) FROM training_record tr JOIN person p ON p.id = tr.person_id
                                        WHERE p.site_id = :site AND tr.completed_on BETWEEN :d0 AND :d1""", **b),
            "people": _scalar(engine, """SELECT count(DISTINCT tr.person_id) FROM training_record tr
                                         JOIN person p ON p.id = tr.person_id
                                         WHERE p.site_id = :site AND tr.completed_on BETWEEN :d0 AND :d1""", **b),
            "ids": {f"training_record#{i}" for i in _ids(engine, """
                SELECT tr.id FROM training_record tr JOIN person p ON p.id = tr.person_id
                WHERE p.site_id = :site AND tr.completed_on BETWEEN :d0 AND :d1""", b)},
        }
    if kind == "inspection":
        return {
            "lines": _scalar(engine, """SELECT count(*) FROM inspection i JOIN area a ON a.id = i.area_id
                                        WHERE a.site_id = :site AND i.due_at >= :t0 AND i.due_at < :t1""", **b),
            "done": _scalar(engine, """SELECT count(*) FROM inspection i JOIN area a ON a.id = i.area_id
                                       WHERE a.site_id = :site AND i.due_at >= :t0 AND i.due_at < :t1
                                         AND i.status = 'done'""", **b),
            "missed": _scalar(engine, """SELECT count(*) FROM inspection i JOIN area a ON a.id = i.area_id
                                         WHERE a.site_id = :site AND i.due_at >= :t0 AND i.due_at < :t1
                                           AND i.status = 'missed'""", **b),
            "findings": _scalar(engine, """SELECT coalesce(sum(findings), 0)
                                           FROM inspection i JOIN area a ON a.id = i.area_id
                                           WHERE a.site_id = :site AND i.due_at >= :t0 AND i.due_at < :t1""", **b),
            "ids": {f"inspection#{i}" for i in _ids(engine, """
                SELECT i.id FROM inspection i JOIN area a ON a.id = i.area_id
                WHERE a.site_id = :site AND i.due_at >= :t0 AND i.due_at < :t1""", b)},
        }
    gas = "s.site_id = :site AND s.kind IN ('voc', 'h2s')"
    exceed = "(r.value > s.alarm_high OR r.value < s.alarm_low)"
    return {
        "readings": _scalar(engine, f"""SELECT count(*) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id
                                        WHERE {gas} AND r.ts >= :t0 AND r.ts < :t1""", **b),
        "lines": _scalar(engine, f"""SELECT count(*) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id
                                     WHERE {gas} AND r.ts >= :t0 AND r.ts < :t1 AND {exceed}""", **b),
        "monitoring_points": _scalar(engine, f"SELECT count(*) FROM sensor s WHERE {gas}", **b),
        "alarms_raised": _scalar(engine, f"""SELECT count(*) FROM alarm al JOIN sensor s ON s.id = al.sensor_id
                                             WHERE {gas} AND al.raised_at >= :t0 AND al.raised_at < :t1""", **b),
        "ids": {f"sensor_reading#{sid}@{ts.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%SZ}" for sid, ts in _rows(engine, f"""
            SELECT r.sensor_id, r.ts FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id
            WHERE {gas} AND r.ts >= :t0 AND r.ts < :t1 AND {exceed}""", b)},
    }


def _ids(engine, sql, p):
    with engine.connect() as conn:
        return set(conn.execute(sa.text(sql), p).scalars())


def _rows(engine, sql, p):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), p).all()


@pytest.mark.parametrize("kind", D.KINDS)
def test_csv_totals_match_source_tables(seeded_engine, bounds, kind, tmp_path):
    led = L.build(seeded_engine, kind, SITE, START, END)
    data = L.export(led, "csv", tmp_path / f"{kind}.csv")
    assert (tmp_path / f"{kind}.csv").read_bytes() == data
    lines, totals = L.read_csv(data)
    truth = _source_truth(seeded_engine, kind, bounds)
    assert truth["lines"] > 0, "the demo period has records for this ledger"
    assert len(lines) == truth["lines"] == int(totals["lines"])
    sources = [r["Source record"] for r in lines]
    assert len(set(sources)) == len(sources) and set(sources) == truth["ids"]  # every line traces to its record
    for k, v in truth.items():
        if k not in ("ids", "lines"):
            assert int(totals[k]) == v, k
    if kind == "inspection":
        assert [r["Status"] for r in lines].count("done") == truth["done"]
    if kind == "waste_gas":
        # Every exceedance names its alarm (the demo alarms follow the limits) and its handling.
        assert all(r["Alarm"].startswith("alarm#") and r["Handling"] in ("cleared", "acknowledged", "open")
                   for r in lines)
        assert int(totals["exceedances_without_alarm"]) == 0
        linked = {int(r["Alarm"].removeprefix("alarm#")) for r in lines}
        assert int(totals["alarms_linked"]) == len(linked)
        # Each linked alarm is on the line's sensor and was open at the reading's time.
        alarms = {a.id: a for a in _rows(seeded_engine, "SELECT id, sensor_id, raised_at, cleared_at FROM alarm "
                                         "WHERE id = ANY(:ids)", {"ids": sorted(linked)})}
        for r in lines:
            sid, ts = r["Source record"].removeprefix("sensor_reading#").split("@")
            a = alarms[int(r["Alarm"].removeprefix("alarm#"))]
            t = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            assert a.sensor_id == int(sid) and a.raised_at <= t and (a.cleared_at is None or a.cleared_at >= t)


@pytest.mark.parametrize("kind", ["inspection", "waste_gas"])
def test_pdf_renders_and_its_totals_match(seeded_engine, bounds, kind):
    import pypdfium2 as pdfium

    led = L.build(seeded_engine, kind, SITE, START, END)
    pdf = pdfium.PdfDocument(L.export(led, "pdf"))
    truth = _source_truth(seeded_engine, kind, bounds)
    text = ""
    try:
        assert len(pdf) >= 1
        for i in range(len(pdf)):
            page = pdf[i]
            img = page.render(scale=1).to_pil().convert("L")
            assert img.width > img.height  # landscape A4
            hist = img.histogram()
            dark = sum(hist[:128]) / (img.width * img.height)
            assert 0.002 < dark < 0.5, f"page {i + 1} looks blank or black ({dark:.4f})"
            tp = page.get_textpage()
            text += tp.get_text_range() + "\n"
            tp.close()
            page.close()
    finally:
        pdf.close()
    flat = re.sub(r"\s+", " ", text)
    # Every source record is printed (never cut off), and the totals block carries the source counts.
    missing = [s for s in truth["ids"] if s not in flat]
    assert not missing, missing[:5]
    assert f"Lines ({truth['lines']})" in flat
    assert re.search(rf"\blines {truth['lines']}\b", flat)
    if kind == "inspection":
        assert re.search(rf"\bdone {truth['done']}\b", flat) and re.search(rf"\bmissed {truth['missed']}\b", flat)
    else:
        assert re.search(rf"\breadings {truth['readings']}\b", flat)
        assert re.search(rf"\balarms_raised {truth['alarms_raised']}\b", flat)
    assert "GB 37822-2019" in flat if kind == "waste_gas" else "HX-HSE-STD-012" in flat


def test_bad_requests_are_refused(seeded_engine):
    with pytest.raises(D.LedgerError, match="unknown ledger"):
        L.build(seeded_engine, "noise", SITE, START, END)
    with pytest.raises(D.LedgerError, match="ends"):
        L.build(seeded_engine, "training", SITE, END, START)
    with pytest.raises(D.LedgerError, match="no site 'NOPE'"):
        L.build(seeded_engine, "training", "NOPE", START, END)
    outsider = Scope(user_id=None, username="guest", role="plant_manager", site_ids=(99999,))
    with pytest.raises(D.LedgerError, match="guest's scope"):
        L.build(seeded_engine, "training", SITE, START, END, scope=outsider)
    led = L.build(seeded_engine, "training", SITE, START, END)
    with pytest.raises(D.LedgerError, match="format"):
        L.export(led, "xlsx")


def test_cli_export(seeded_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = seeded_url
    out = tmp_path / "insp.pdf"
    r = subprocess.run([sys.executable, "-m", "qhse.cli", "ledger", "export", "inspection", "--site", SITE, "--from",
                        START.isoformat(), "--to", END.isoformat(), "--format", "pdf", "--output", str(out)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().startswith(b"%PDF")
    r = subprocess.run([sys.executable, "-m", "qhse.cli", "ledger", "export", "training", "--site", SITE, "--from",
                        "2026-13-01", "--to", END.isoformat()], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2 and "use YYYY-MM-DD" in r.stderr


def test_csv_cells_cannot_start_a_formula():
    led = D.Ledger(kind="training", title="t", site={"id": 1, "code": "S", "name": "S", "timezone": "UTC"},
                   start=START, end=END, generated_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                   columns=[D.Column("source", "Source record"), D.Column("person", "Person"),
                            D.Column("score", "Score")],
                   rows=[{"source": "training_record#1", "person": '=HYPERLINK("http://x")', "score": "-5"}],
                   totals=[("lines", 1)])
    lines, totals = L.read_csv(L.to_csv(led))
    assert lines == [{"Source record": "training_record#1", "Person": '\'=HYPERLINK("http://x")', "Score": "-5"}]
    assert totals == {"lines": "1"}
