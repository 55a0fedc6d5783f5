"""CSV importers: row-level errors with line and column, all-or-nothing, --skip-bad, idempotent, AI4I history."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from db import models as m
from ingestion.importers import ImportFileError, run_import

from .ingest_fixtures import ROOT, make_plant, unique

AI4I = ROOT.parent / "shared" / "data" / "ai4i2020" / "ai4i2020.csv"


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text.lstrip("\n"), encoding="utf-8")
    return p


def _count(engine, sql: str, **params) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar())


@pytest.fixture()
def plant(engine):
    p = make_plant(engine, rules=False)
    with engine.begin() as conn:
        dept = conn.execute(sa.insert(m.Department).values(site_id=p.site_id, code="MACH", name="Machining",
                                                           stage="machining").returning(m.Department.id)).scalar()
        conn.execute(sa.insert(m.Post).values(department_id=dept, code="OP", name="Operator", hazardous=True))
        code = unique("C")
        conn.execute(sa.insert(m.TrainingCourse).values(code=code, name="Confined space entry", validity_months=24))
    p.course = code  # type: ignore[attr-defined]
    return p


def test_assets_bad_rows_are_reported_with_line_and_column_and_nothing_is_imported(engine, plant, tmp_path):
    site = plant.site
    bad = _csv(tmp_path, "assets.csv", f"""
site,area,code,name,kind,product_type,manufacturer,installed_at
{site},MILL,{site}-A1,,cnc_mill,M,Haas,2020-05-01
{site},MILL,{site}-A2,Lathe 2,lathe,X,Mazak,2021-01-01
{site},NOPE,{site}-A3,Press 3,press,H,,
{site},MILL,{site}-A4,Press 4,press,H,,2021-13-45
{site},MILL,{site}-A5,Mill 5,cnc_mill,L,DMG Mori,2019-03-02
""")
    before = _count(engine, "SELECT count(*) FROM asset")
    r = run_import("assets", bad, engine=engine)
    assert not r.imported and _count(engine, "SELECT count(*) FROM asset") == before
    got = [(e.line, e.column) for e in r.errors]
    assert got == [(2, "name"), (3, "product_type"), (4, "area"), (5, "installed_at")]
    assert "a value is required" in str(r.errors[0]) and "'X'" in str(r.errors[1])
    assert str(r.errors[2]).startswith("line 4, column 'area': no area")
    assert "nothing imported" in r.summary()

    r = run_import("assets", bad, engine=engine, skip_bad=True)
    assert r.imported and r.inserted == 1 and len(r.errors) == 4
    assert _count(engine, "SELECT count(*) FROM asset WHERE code = :c", c=f"{site}-A5") == 1


def test_assets_import_is_idempotent_and_updates_changed_rows(engine, plant, tmp_path):
    site = plant.site
    text = f"""
site,area,code,name,kind,product_type
{site},MILL,{site}-B1,Mill B1,cnc_mill,M
{site},CHEM,{site}-B2,Solvent pump,pump,L
"""
    f = _csv(tmp_path, "a.csv", text)
    r = run_import("assets", f, engine=engine)
    assert (r.inserted, r.updated, r.unchanged) == (2, 0, 0)
    r = run_import("assets", f, engine=engine)
    assert (r.inserted, r.updated, r.unchanged) == (0, 0, 2)
    r = run_import("assets", _csv(tmp_path, "b.csv", text.replace("Solvent pump", "Solvent transfer pump")),
                   engine=engine)
    assert (r.inserted, r.updated, r.unchanged) == (0, 1, 1)


def test_wrong_header_is_a_file_error(engine, plant, tmp_path):
    f = _csv(tmp_path, "h.csv", "site,area,code,nmae,kind\nX,Y,Z,W,V\n")
    with pytest.raises(ImportFileError, match=r"line 1: missing column\(s\) 'name'; unknown column\(s\) 'nmae'"):
        run_import("assets", f, engine=engine)
    with pytest.raises(ImportFileError, match="empty"):
        run_import("assets", _csv(tmp_path, "e.csv", ""), engine=engine)
    ragged = _csv(tmp_path, "r.csv", f"site,area,code,name,kind\n{plant.site},MILL,{plant.site}-R1,x\n")
    r = run_import("assets", ragged, engine=engine)
    assert [str(e) for e in r.errors] == ["line 2: 4 values for 5 columns"]


def test_people_and_training_records(engine, plant, tmp_path):
    site = plant.site
    e1, e2 = unique("E"), unique("E")
    people = _csv(tmp_path, "people.csv", f"""
employee_no,name,kind,site,department,post,hired_on,email
{e1},Wang Wei,employee,{site},MACH,OP,2019-04-01,wang.wei@example.com
{e2},Li Na,employee,{site},MACH,,2021-09-15,
""")
    r = run_import("people", people, engine=engine)
    assert r.imported and r.inserted == 2, [str(e) for e in r.errors]
    training = _csv(tmp_path, "training.csv", f"""
employee_no,course,completed_on,expires_on,score,passed
{e1},{plant.course},2025-03-10,,92.5,true
{e2},{plant.course},2025-06-01,2026-06-01,88,yes
{e2},NOPE,2025-06-01,,,
E-UNKNOWN,{plant.course},2025-06-01,,,
{e1},{plant.course},2025-07-01,2025-01-01,101,
""")
    r = run_import("training", training, engine=engine)
    assert not r.imported
    assert [(e.line, e.column) for e in r.errors] == [(4, "course"), (5, "employee_no"), (6, "score")]
    r = run_import("training", training, engine=engine, skip_bad=True)
    assert r.inserted == 2
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.employee_no, t.completed_on, t.expires_on "
            "FROM training_record t JOIN person p ON p.id = t.person_id "
            "WHERE p.employee_no IN (:a, :b) ORDER BY 1"), {"a": e1, "b": e2}).fetchall()
    # Without expires_on, the course's 24-month validity applies.
    assert {(r[0], r[2]) for r in rows} == {(e1, dt.date(2027, 3, 10)), (e2, dt.date(2026, 6, 1))}


def test_hours_worked(engine, plant, tmp_path):
    site = plant.site
    f = _csv(tmp_path, "hours.csv", f"""
site,department,month,hours,headcount,contractor_hours
{site},MACH,2026-01,35200.5,200,1200
{site},,2026-01-01,52000,300,
{site},MACH,2026-02-15,100,1,
{site},MACH,2026-03,-4,1,
""")
    r = run_import("hours", f, engine=engine)
    assert [(e.line, e.column) for e in r.errors] == [(4, "month"), (5, "hours")]
    r = run_import("hours", f, engine=engine, skip_bad=True)
    assert r.inserted == 2
    r = run_import("hours", f, engine=engine, skip_bad=True)
    assert r.unchanged == 2 and r.inserted == 0
    assert _count(engine, "SELECT count(*) FROM hours_worked WHERE site_id = :s", s=plant.site_id) == 2


def test_incidents(engine, plant, tmp_path):
    site = plant.site
    f = _csv(tmp_path, "incidents.csv", f"""
site,area,department,occurred_at,kind,recordable,lost_time,restricted_or_transfer,days_away,days_restricted,description,cost
{site},MILL,MACH,2026-03-02 10:15,injury,true,true,false,5,0,Hand caught in a chuck,12000
{site},CHEM,,2026-03-05T08:00:00+08:00,near_miss,false,false,false,0,0,Drum tipped over,
{site},MILL,,2026-03-06 09:00,injury,false,true,false,3,0,Lost time but not recordable,
{site},MILL,,2026-03-07 09:00,fall,false,false,false,0,0,Unknown kind,
""")
    r = run_import("incidents", f, engine=engine)
    assert [(e.line, e.column) for e in r.errors] == [(4, "recordable"), (5, "kind")]
    r = run_import("incidents", f, engine=engine, skip_bad=True)
    assert r.inserted == 2
    r = run_import("incidents", f, engine=engine, skip_bad=True)
    assert r.inserted == 0 and r.unchanged == 2
    with engine.connect() as conn:
        t = conn.execute(sa.text("SELECT occurred_at FROM incident WHERE site_id = :s AND kind = 'injury'"),
                         {"s": plant.site_id}).scalar()
    # No zone given: the site's time zone (Asia/Shanghai, UTC+8).
    assert t == dt.datetime(2026, 3, 2, 2, 15, tzinfo=dt.UTC)


@pytest.mark.skipif(not AI4I.exists(), reason=f"{AI4I} not present")
def test_ai4i_file_imports_as_asset_history(engine, plant, tmp_path):
    start = "2026-01-01T00:00:00Z"
    r = run_import("ai4i", AI4I, engine=engine, asset_code=plant.asset, start=start, interval_s=300)
    assert r.imported and not r.errors and r.rows == 10_000
    assert r.inserted == 50_000
    assert any("CC BY 4.0" in n for n in r.notes)
    ids = [plant.sensors["m_" + k].id for k in ("air_temp", "process_temp", "rpm", "torque", "tool_wear")]
    with engine.connect() as conn:
        n, lo, hi = conn.execute(sa.text("SELECT count(*), min(ts), max(ts) FROM sensor_reading "
                                         "WHERE sensor_id = ANY(:s)"), {"s": ids}).one()
        modes = dict(conn.execute(sa.text("SELECT mode, count(*) FROM failure_event WHERE asset_id = :a GROUP BY 1"),
                                  {"a": plant.asset_id}).fetchall())
        changes = conn.execute(sa.text("SELECT count(*) FROM maintenance_event WHERE asset_id = :a "
                                       "AND kind = 'tool_change'"), {"a": plant.asset_id}).scalar()
        torque_first = conn.execute(sa.text("SELECT value FROM sensor_reading WHERE sensor_id = :s "
                                            "ORDER BY ts LIMIT 1"),
                                    {"s": plant.sensors["m_torque"].id}).scalar()
        hourly = conn.execute(sa.text("SELECT sum(n) FROM sensor_reading_hourly WHERE sensor_id = ANY(:s)"),
                              {"s": ids}).scalar()
    assert n == 50_000 and hourly == 50_000
    assert lo == dt.datetime(2026, 1, 1, tzinfo=dt.UTC) and hi == lo + dt.timedelta(seconds=300 * 9_999)
    assert torque_first == 42.8  # UDI 1
    assert sum(modes.values()) == 339 and modes["unknown"] == 9 and modes["HDF"] > 0
    assert changes == 119
    # Importing the same file again adds nothing.
    r = run_import("ai4i", AI4I, engine=engine, asset_code=plant.asset, start=start, interval_s=300)
    assert r.inserted == 0 and r.unchanged == 50_000
    assert any("failure events: 0 new; tool changes: 0 new" in n for n in r.notes)


@pytest.mark.skipif(not AI4I.exists(), reason=f"{AI4I} not present")
def test_bad_ai4i_file_is_rejected_with_line_and_column(engine, plant, tmp_path):
    lines = AI4I.read_text(encoding="utf-8-sig").splitlines()[:30]
    cells = lines[4].split(",")
    cells[6] = "abc"  # torque on line 5
    lines[4] = ",".join(cells)
    cells = lines[9].split(",")
    cells[9] = "2"  # TWF on line 10
    lines[9] = ",".join(cells)
    cells = lines[14].split(",")
    cells[5] = "9000"  # rotational speed on line 15: beyond the sensor's valid range
    lines[14] = ",".join(cells)
    f = _csv(tmp_path, "ai4i_bad.csv", "\n".join(lines) + "\n")
    r = run_import("ai4i", f, engine=engine, asset_code=plant.asset, start="2026-01-01T00:00:00Z")
    assert not r.imported
    assert [(e.line, e.column) for e in r.errors] == [(5, "Torque [Nm]"), (10, "TWF"), (15, "Rotational speed [rpm]")]
    assert _count(engine, "SELECT count(*) FROM sensor_reading WHERE sensor_id = :s",
                  s=plant.sensors["m_torque"].id) == 0
    with pytest.raises(ImportFileError, match="no asset"):
        run_import("ai4i", f, engine=engine, asset_code="NO-SUCH-ASSET")


def test_import_command_line(engine, db_url, plant, tmp_path):
    site = plant.site
    bad = _csv(tmp_path, "assets.csv", f"""
site,area,code,name,kind,product_type
{site},MILL,{site}-C1,Mill C1,cnc_mill,Q
{site},MILL,{site}-C2,Mill C2,cnc_mill,M
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = db_url

    def run(*args):
        return subprocess.run([sys.executable, "-m", "qhse.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    r = run("import", "assets", str(bad))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert err[0] == f"{bad}: line 2, column 'product_type': Input should be 'L', 'M' or 'H' (got 'Q')"
    assert err[-1].startswith("error: 1 bad row(s)") and "nothing imported" in err[-1]
    assert _count(engine, "SELECT count(*) FROM asset WHERE code LIKE :c", c=f"{site}-C%") == 0
    r = run("import", "assets", str(bad), "--skip-bad")
    assert r.returncode == 0 and "1 inserted" in r.stdout
    r = run("import", "ai4i", str(bad))
    assert r.returncode == 2 and "--asset" in r.stderr
    r = run("import-columns", "hours")
    assert r.returncode == 0 and "month YYYY-MM" in r.stdout


def test_nul_byte_in_a_cell_is_a_line_and_column_error(engine, plant, tmp_path):
    site = plant.site
    f = tmp_path / "nul.csv"
    f.write_bytes((f"site,area,code,name,kind\n{site},MILL,{site}-N1,Mill N1,cnc_mill\n"
                   f"{site},MILL,{site}-N2,Mill\x00N2,cnc_mill\n").encode())
    r = run_import("assets", f, engine=engine)
    assert not r.imported
    assert [(e.line, e.column) for e in r.errors] == [(3, "name")] and "NUL" in r.errors[0].message
    assert _count(engine, "SELECT count(*) FROM asset WHERE code LIKE :c", c=f"{site}-N%") == 0
    r = run_import("assets", f, engine=engine, skip_bad=True)
    assert r.imported and r.inserted == 1


def test_streamed_import_keeps_counting_errors_beyond_the_kept_ones(engine, plant, tmp_path, monkeypatch):
    from ingestion import importers

    monkeypatch.setattr(importers, "CHUNK_ROWS", 7)
    monkeypatch.setattr(importers, "MAX_KEPT_ERRORS", 5)
    site = plant.site
    rows = [f"{site},MILL,{site}-S{i},Mill {i},cnc_mill,{'Q' if i % 3 == 0 else 'M'}" for i in range(60)]
    f = _csv(tmp_path, "many.csv", "site,area,code,name,kind,product_type\n" + "\n".join(rows) + "\n")
    r = run_import("assets", f, engine=engine)
    assert not r.imported and r.error_count == 20 and len(r.errors) == 5 and r.rows == 60
    assert _count(engine, "SELECT count(*) FROM asset WHERE code LIKE :c", c=f"{site}-S%") == 0
    r = run_import("assets", f, engine=engine, skip_bad=True)
    assert r.imported and r.inserted == 40 and r.valid == 40
