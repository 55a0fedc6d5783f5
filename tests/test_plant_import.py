"""Bring your own plant: org, sensor kinds, sensors, reading history, failures, maintenance and machine
events loaded from files (through qhse.services.plant), on the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from db import models as m
from ingestion.importers import ImportFileError, describe_columns, parse_calendar, run_import
from qhse.domain.access import AccessDenied
from qhse.services.actors import ActorError

from .ingest_fixtures import ROOT, unique


def _csv(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text.lstrip("\n"), encoding="utf-8")
    return p


def _one(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def _org(tmp_path: Path, code: str) -> Path:
    # Deliberately out of order: areas and departments before their site, the site before its region.
    return _csv(tmp_path, f"org-{code}.csv", f"""
type,code,name,parent,timezone,calendar,industry,city,kind,risk_class,department,stage,gas
area,PRESS,Press hall,{code},,,,,pressing,B,MAINT,,
area,TANK,Tank farm,{code},,,,,chemical_store,A,,,true
department,MAINT,Maintenance,{code},,,,,,,,general,
site,{code},Plant {code},R-{code},Europe/Berlin,Mon-Fri 07:00-16:00,metal forming,Leipzig,,,,,
region,R-{code},Region {code},,,,,,,,,,
""")


def _plant(engine, tmp_path: Path) -> str:
    """A site with areas, one asset, kinds pressure/voltage and three sensors; returns the site code."""
    code = unique("BYO")
    assert run_import("org", _org(tmp_path, code), engine=engine).imported
    assert run_import("assets", _csv(tmp_path, f"assets-{code}.csv", f"""
site,area,code,name,kind
{code},PRESS,{code}-P1,Press 1,hydraulic_press
"""), engine=engine).imported
    assert run_import("sensor-kinds", _csv(tmp_path, "kinds.csv", """
kind,unit,min_valid,max_valid,description
pressure,bar,0,400,Hydraulic pressure
voltage,V,0,480,Supply voltage
"""), engine=engine).imported
    r = run_import("sensors", _csv(tmp_path, f"sensors-{code}.csv", f"""
code,site,area,asset,kind,unit,min_valid,max_valid,sampling_s
{code}-P1-pressure,{code},PRESS,{code}-P1,pressure,bar,,,3600
{code}-P1-voltage,{code},PRESS,{code}-P1,voltage,,100,300,3600
{code}-P1-vib,{code},PRESS,{code}-P1,vibration,mm/s,0,100,3600
"""), engine=engine)
    assert r.imported and r.inserted == 3, r.errors
    return code


def test_org_file_in_any_order_is_idempotent_and_checked(engine, tmp_path):
    code = unique("ORG")
    f = _org(tmp_path, code)
    r = run_import("org", f, engine=engine)
    assert r.imported and r.inserted == 5, r.errors
    with engine.connect() as conn:
        site = conn.execute(sa.select(m.Site).where(m.Site.code == code)).one()
        assert site.timezone == "Europe/Berlin" and site.city == "Leipzig"
        assert site.settings["calendar"] == {"workdays": [0, 1, 2, 3, 4], "start": "07:00", "end": "16:00"}
        press = conn.execute(sa.select(m.Area).where(m.Area.site_id == site.id, m.Area.code == "PRESS")).one()
        dept = conn.execute(sa.select(m.Department.id).where(m.Department.site_id == site.id)).scalar()
        assert press.risk_class == "B" and press.department_id == dept and press.kind == "pressing"
        assert conn.execute(sa.select(m.Area.is_gas_area).where(m.Area.code == "TANK",
                                                                m.Area.site_id == site.id)).scalar()
        audit = conn.execute(sa.text("SELECT username, detail FROM audit_log WHERE action = 'import.org' "
                                     "ORDER BY id DESC LIMIT 1")).one()
    assert audit.username == "system:import" and audit.detail["inserted"] == 5
    again = run_import("org", f, engine=engine)
    assert again.imported and (again.inserted, again.updated, again.unchanged) == (0, 0, 5)

    bad = _csv(tmp_path, "org-bad.csv", f"""
type,code,name,parent,timezone,calendar,risk_class,kind,department
site,{code}-2,Second,NO-REGION,Mars/Olympus,,,,
area,X1,No class,{code},,,,store,
area,X2,Bad dept,{code},,,C,store,NOPE
site,{code}-3,Third,R-{code},,every day,,,
plant,{code}-4,What,,,,,,
""")
    r = run_import("org", bad, engine=engine)
    assert not r.imported
    assert [(e.line, e.column) for e in r.errors] == [
        (2, "parent"), (2, "timezone"), (3, "risk_class"), (4, "department"), (5, "calendar"), (6, "type")]
    assert _one(engine, "SELECT count(*) FROM site WHERE code LIKE :c", c=f"{code}-%") == 0


def test_a_dry_run_checks_everything_and_keeps_nothing(engine, tmp_path):
    """What the Plant set-up page shows before the import button: real counts and errors, nothing kept."""
    code = unique("DRY")
    r = run_import("org", _org(tmp_path, code), engine=engine, dry_run=True)
    assert not r.imported and r.inserted == 5 and r.error_count == 0
    assert _one(engine, "SELECT count(*) FROM site WHERE code = :c", c=code) == 0
    assert _one(engine, "SELECT count(*) FROM audit_log WHERE action = 'import.org' AND detail->>'file' = :f",
                f=f"org-{code}.csv") == 0


def test_calendar_cells():
    assert parse_calendar("Mon,Wed-Fri 7:30-16:00") == {"workdays": [0, 2, 3, 4], "start": "07:30", "end": "16:00"}
    assert parse_calendar("Sat-Mon 06:00-14:00")["workdays"] == [0, 5, 6]
    with pytest.raises(ValueError):
        parse_calendar("Funday 08:00-17:00")


def test_sensors_take_kinds_from_the_table_and_may_override_the_range(engine, tmp_path):
    code = _plant(engine, tmp_path)
    with engine.connect() as conn:
        rows = {r.code.rsplit("-", 1)[1]: r for r in conn.execute(
            sa.select(m.Sensor).where(m.Sensor.code.like(f"{code}-%")))}
    assert rows["pressure"].unit == "bar" and rows["pressure"].min_valid is None  # the kind's range applies
    assert rows["voltage"].unit == "V" and (rows["voltage"].min_valid, rows["voltage"].max_valid) == (100, 300)
    assert rows["vib"].max_valid == 100  # a plant's own vibration range (the kind's is 0..50)

    bad = _csv(tmp_path, "sensors-bad.csv", f"""
code,site,area,asset,kind,unit,min_valid,max_valid
{code}-x1,{code},PRESS,,humidity_of_mars,,,
{code}-x2,{code},PRESS,,pressure,psi,,
{code}-x3,{code},NOPE,,pressure,,,
{code}-x4,{code},PRESS,NOPE,pressure,,,
{code}-x5,{code},PRESS,,voltage,,300,100
""")
    r = run_import("sensors", bad, engine=engine)
    assert not r.imported
    assert [(e.line, e.column) for e in r.errors] == [(2, "kind"), (3, "unit"), (4, "area"), (5, "asset"),
                                                      (6, "max_valid")]
    assert "qhse import sensor-kinds" in r.errors[0].message

    # Live ingestion validates with the same ranges: the kind's where the sensor leaves them open.
    from ingestion.registry import SensorRegistry

    reg = SensorRegistry()
    raw = engine.raw_connection()
    try:
        reg.load(raw.driver_connection)
    finally:
        raw.close()
    info = {k[1]: v for k, v in reg.by_key.items() if k[0] == code}
    assert (info[f"{code}-P1-pressure"].min_valid, info[f"{code}-P1-pressure"].max_valid) == (0, 400)
    assert info[f"{code}-P1-vib"].max_valid == 100


def test_reading_history_csv_and_parquet(engine, tmp_path):
    code = _plant(engine, tmp_path)
    p, v, x = f"{code}-P1-pressure", f"{code}-P1-voltage", f"{code}-P1-vib"
    # Ten years back (no maximum age), an offset, a naive time (UTC) and a vibration a demo sensor would refuse.
    f = _csv(tmp_path, "readings.csv", f"""
sensor,ts,value,quality
{p},2016-03-01T00:00:00Z,120.5,0
{p},2016-03-01T01:00:00+01:00,121.0,
{p},2016-03-01T01:00:00,122.0,1
{v},2016-03-01T00:00:00Z,230,0
{x},2016-03-01T00:00:00Z,70.6,0
""")
    r = run_import("readings", f, engine=engine)
    assert r.imported and r.inserted == 4 and r.unchanged == 1, (r.errors, r.summary())  # line 3 = line 2's time
    assert _one(engine, "SELECT count(*) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id "
                        "WHERE s.code LIKE :c", c=f"{code}-%") == 4
    hourly = _one(engine, "SELECT h.n FROM sensor_reading_hourly h JOIN sensor s ON s.id = h.sensor_id "
                          "WHERE s.code = :c AND h.bucket = '2016-03-01T01:00:00Z'", c=p)
    assert hourly == 1
    daily = _one(engine, "SELECT d.n FROM sensor_reading_daily d JOIN sensor s ON s.id = d.sensor_id "
                         "WHERE s.code = :c AND d.day = '2016-03-01'", c=p)
    assert daily == 2
    again = run_import("readings", f, engine=engine)
    assert again.imported and again.inserted == 0 and again.unchanged == 5
    assert _one(engine, "SELECT h.n FROM sensor_reading_hourly h JOIN sensor s ON s.id = h.sensor_id "
                        "WHERE s.code = :c AND h.bucket = '2016-03-01T01:00:00Z'", c=p) == 1

    bad = _csv(tmp_path, "readings-bad.csv", f"""
sensor,ts,value
{p},2016-04-01T00:00:00Z,10
NOPE,2016-04-01T00:00:00Z,10
{p},yesterday,10
{v},2016-04-01T00:00:00Z,99
{p},2016-04-01T01:00:00Z,lots
{p},2099-01-01T00:00:00Z,10
{x},2016-04-01T00:00:00Z,inf
""")
    r = run_import("readings", bad, engine=engine)
    assert not r.imported and r.error_count == 6
    assert [(e.line, e.column) for e in r.errors] == [(3, "sensor"), (4, "ts"), (5, "value"), (6, "value"),
                                                      (7, "ts"), (8, "value")]
    assert "outside the valid range [100, 300]" in r.errors[2].message
    assert _one(engine, "SELECT count(*) FROM sensor_reading r JOIN sensor s ON s.id = r.sensor_id "
                        "WHERE s.code = :c AND r.ts >= '2016-04-01'", c=p) == 0
    r = run_import("readings", bad, engine=engine, skip_bad=True)
    assert r.imported and r.inserted == 1

    import pyarrow as pa
    import pyarrow.parquet as pq

    base = dt.datetime(2016, 5, 1, tzinfo=dt.UTC)
    pq.write_table(pa.table({"sensor": [p] * 48, "ts": [base + dt.timedelta(hours=i) for i in range(48)],
                             "value": np.linspace(100, 150, 48)}), tmp_path / "r.parquet")
    r = run_import("readings", tmp_path / "r.parquet", engine=engine)
    assert r.imported and r.inserted == 48, r.errors

    with pytest.raises(ImportFileError, match="missing column"):
        run_import("readings", _csv(tmp_path, "nohead.csv", "sensor,time,value\nx,y,1\n"), engine=engine)


def test_failures_maintenance_and_events_with_components(engine, tmp_path):
    code = _plant(engine, tmp_path)
    a = f"{code}-P1"
    r = run_import("failures", _csv(tmp_path, "f.csv", f"""
asset,ts,component,mode
{a},2026-01-10T06:00:00,pump,leak
{a},2026-02-10T06:00:00Z,,overload
"""), engine=engine)
    assert r.imported and r.inserted == 2, r.errors
    # A time without a zone is in the site's time zone (Europe/Berlin: UTC+1 in January).
    assert _one(engine, "SELECT occurred_at FROM failure_event f JOIN asset a ON a.id = f.asset_id "
                        "WHERE a.code = :a AND component = 'pump'", a=a) == dt.datetime(2026, 1, 10, 5, tzinfo=dt.UTC)
    r = run_import("maintenance", _csv(tmp_path, "mt.csv", f"""
asset,ts,component,kind
{a},2026-01-12T08:00:00Z,pump,corrective
{a},2026-03-01T08:00:00Z,seal,scheduled
{a},2026-03-01T08:00:00Z,seal,sometimes
"""), engine=engine)
    assert not r.imported and [(e.line, e.column) for e in r.errors] == [(4, "kind")]
    r = run_import("maintenance", tmp_path / "mt.csv", engine=engine, skip_bad=True)
    assert r.imported and r.inserted == 2
    assert _one(engine, "SELECT kind FROM maintenance_event WHERE component = 'seal' AND asset_id = "
                        "(SELECT id FROM asset WHERE code = :a)", a=a) == "preventive"
    ev = _csv(tmp_path, "ev.csv", f"""
asset,ts,code,severity,message
{a},2026-01-09T22:00:00Z,E042,warning,pressure drop
{a},2026-01-10T05:30:00Z,E007,critical,
NOPE,2026-01-10T05:30:00Z,E007,critical,
""")
    r = run_import("events", ev, engine=engine, skip_bad=True)
    assert r.imported and r.inserted == 2 and [(e.line, e.column) for e in r.errors] == [(4, "asset")]
    r = run_import("events", ev, engine=engine, skip_bad=True)
    assert r.inserted == 0 and r.unchanged == 2
    assert "severity" in describe_columns("events") and "quality" in describe_columns("readings")


def test_imports_need_manage_plant_and_the_site(engine, tmp_path):
    from qhse.domain.access import scope_for

    code = _plant(engine, tmp_path)
    worker = scope_for(user_id=10_001, username="worker1", role="worker", all_sites=True)
    elsewhere = scope_for(user_id=10_002, username="admin-elsewhere", role="admin", all_sites=False, site_ids=[-1])
    f = _csv(tmp_path, "ev2.csv", f"asset,ts,code\n{code}-P1,2026-01-01T00:00:00Z,E1\n")
    with pytest.raises(AccessDenied):
        run_import("events", f, engine=engine, actor=worker)
    with pytest.raises(ActorError):
        run_import("events", f, engine=engine, actor="somebody")
    # An admin of another site: the row's asset is outside its scope, a row error; nothing written.
    r = run_import("events", f, engine=engine, actor=elsewhere)
    assert not r.imported and [(e.line, e.column) for e in r.errors] == [(2, "asset")]
    assert "outside" in r.errors[0].message
    assert _one(engine, "SELECT count(*) FROM machine_event e JOIN asset a ON a.id = e.asset_id "
                        "WHERE a.code = :a", a=f"{code}-P1") == 0


# ------------------------------------------------------------------------------------------------
# A whole plant with the commands alone, on an empty database, then the failure model
# ------------------------------------------------------------------------------------------------

KINDS = [("pressure", "bar", 0, 400), ("voltage", "V", 0, 480), ("rotation", "rpm", 0, 3000)]


def _generated_plant(folder: Path, *, machines: int = 8, days: int = 120, seed: int = 7) -> dict[str, Path]:
    """Files of a small plant whose sensors are not the demo's kinds (pressure, voltage, rotation)."""
    rng = np.random.default_rng(seed)
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(days=days)
    files = {}
    files["org"] = _csv(folder, "org.csv", """
type,code,name,parent,timezone,calendar,kind,risk_class,department
region,EU,Europe,,,,,,
site,PL1,Forming plant,EU,Europe/Warsaw,Mon-Fri 06:00-22:00,,,
department,MNT,Maintenance,PL1,,,,,
department,PRD,Production,PL1,,,,,
area,HALL1,Press hall 1,PL1,,,pressing,B,PRD
area,HALL2,Press hall 2,PL1,,,pressing,A,MNT
""")
    assets = ["site,area,code,name,kind,product_type,installed_at"]
    sensors = ["code,site,area,asset,kind,unit,min_valid,max_valid,sampling_s"]
    for i in range(machines):
        a = f"PR{i + 1:02d}"
        assets.append(f"PL1,HALL{1 + i % 2},{a},Press {i + 1},hydraulic_press,{'LMH'[i % 3]},2015-0{1 + i % 9}-01")
        for k, u, _lo, _hi in KINDS:
            sensors.append(f"{a}-{k},PL1,HALL{1 + i % 2},{a},{k},{u},,,3600")
    files["assets"] = _csv(folder, "assets.csv", "\n".join(assets) + "\n")
    files["sensor-kinds"] = _csv(folder, "kinds.csv", "kind,unit,min_valid,max_valid,description\n" + "".join(
        f"{k},{u},{lo},{hi},{k}\n" for k, u, lo, hi in KINDS))
    files["sensors"] = _csv(folder, "sensors.csv", "\n".join(sensors) + "\n")
    hours = days * 24
    t = [start + dt.timedelta(hours=h) for h in range(hours)]
    ts = [x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in t]
    failures, maint, events = ["asset,ts,component,mode"], ["asset,ts,component,kind"], ["asset,ts,code,severity"]
    with open(folder / "readings.csv", "w", encoding="utf-8") as fh:
        fh.write("sensor,ts,value\n")
        for i in range(machines):
            a = f"PR{i + 1:02d}"
            fail_at = sorted(rng.choice(np.arange(24 * 10, hours - 24), size=3, replace=False).tolist())
            drift = np.zeros(hours)
            for fa in fail_at:
                lo = max(0, fa - 72)
                drift[lo:fa] += np.linspace(0, 1, fa - lo)
                failures.append(f"{a},{ts[fa]},{'pump' if fa % 2 else 'valve'},{'leak' if fa % 2 else 'overload'}")
                maint.append(f"{a},{ts[min(fa + 4, hours - 1)]},{'pump' if fa % 2 else 'valve'},corrective")
                events.append(f"{a},{ts[max(fa - 6, 0)]},E{40 + fa % 5},error")
            for h in range(0, hours, 24 * 30):
                maint.append(f"{a},{ts[h]},filter,scheduled")
            vals = {"pressure": 180 + 10 * rng.standard_normal(hours) + 60 * drift,
                    "voltage": 230 + 3 * rng.standard_normal(hours) - 15 * drift,
                    "rotation": 1450 + 20 * rng.standard_normal(hours) + 200 * drift}
            for k, v in vals.items():
                fh.writelines(f"{a}-{k},{ts[h]},{v[h]:.3f}\n" for h in range(hours))
    files["readings"] = folder / "readings.csv"
    files["failures"] = _csv(folder, "failures.csv", "\n".join(failures) + "\n")
    files["maintenance"] = _csv(folder, "maintenance.csv", "\n".join(maint) + "\n")
    files["events"] = _csv(folder, "events.csv", "\n".join(events) + "\n")
    return files


@pytest.fixture()
def cli(fresh_db_url, db_factory, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = fresh_db_url
    env["QHSE_DATA_DIR"] = str(tmp_path / "data")
    mlflow_url = db_factory.create(prefix="qhse_mlflow_test", migrate=False)
    env["QHSE_MLFLOW_TRACKING_URI"] = mlflow_url
    env["QHSE_MLRUNS_DIR"] = str(tmp_path / "mlruns")

    def run(*args, timeout: int = 300):
        return subprocess.run([sys.executable, "-m", "qhse.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=timeout)

    run.url = fresh_db_url  # type: ignore[attr-defined]
    yield run
    db_factory.drop(mlflow_url)


def test_a_new_plant_is_loaded_with_the_import_commands_alone(cli, tmp_path):
    files = _generated_plant(tmp_path)
    for kind in ("org", "assets", "sensor-kinds", "sensors", "readings", "failures", "maintenance", "events"):
        r = cli("import", kind, str(files[kind]))
        assert r.returncode == 0, (kind, r.stdout, r.stderr)
    engine = sa.create_engine(cli.url)
    try:
        with engine.connect() as conn:
            q = conn.execute
            assert q(sa.text("SELECT count(*) FROM sensor WHERE kind IN ('pressure', 'voltage', 'rotation')")
                     ).scalar() == 24
            assert q(sa.text("SELECT count(*) FROM sensor_reading")).scalar() == 8 * 3 * 120 * 24
            assert q(sa.text("SELECT count(*) FROM sensor_reading_hourly")).scalar() == 8 * 3 * 120 * 24
            assert q(sa.text("SELECT count(*) FROM failure_event WHERE component IS NOT NULL")).scalar() == 24
            assert q(sa.text("SELECT count(*) FROM machine_event")).scalar() == 24
            assert q(sa.text("SELECT count(DISTINCT action) FROM audit_log WHERE action LIKE 'import.%'")
                     ).scalar() == 8
    finally:
        engine.dispose()
    r = cli("import", "readings", str(files["readings"]))  # a second load changes nothing
    assert r.returncode == 0 and "0 inserted" in r.stdout, r.stdout
    r = cli("import-columns", "readings")
    assert r.returncode == 0 and "sensor" in r.stdout and "quality" in r.stdout


def test_failure_model_on_a_plant_loaded_from_files(cli, tmp_path):
    """`qhse ml train` and `qhse ml score` on the imported plant.

    Today the failure model's features are the demo's sensor kinds (ml/features.py MACHINE_KINDS:
    air_temp, process_temp, rpm, torque, tool_wear, vibration), so on a plant with other kinds
    training refuses with a one-line error (no traceback, exit status 2) and scoring has no model.
    When the features become generic (a separate item) this test must be turned into a real
    train-and-score check.
    """
    files = _generated_plant(tmp_path, machines=6, days=120)
    for kind in ("org", "assets", "sensor-kinds", "sensors", "readings", "failures", "maintenance", "events"):
        assert cli("import", kind, str(files[kind])).returncode == 0, kind
    train = cli("ml", "train", "--horizon", "7", timeout=600)
    assert train.returncode == 2, (train.stdout, train.stderr)
    assert train.stderr.strip().splitlines()[-1] == (
        "error: no assets with machine sensors (air_temp, process_temp, rpm, torque, tool_wear, vibration)")
    score = cli("ml", "score", timeout=600)
    assert score.returncode != 0 and "Traceback" not in score.stderr, (score.stdout, score.stderr)
    print("ml score:", score.returncode, score.stderr.strip().splitlines()[-1:])
