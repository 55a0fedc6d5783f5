"""Deterministic, causally plausible demo data for one manufacturing group.

One enterprise, two regions, three plants (electronics, precision instruments, machining),
12 months of history ending at ``end`` (default: today 00:00 UTC):

* machines whose failures are preceded by drift: bearing wear shows as rising vibration
  and process temperature, failing cooling as a shrinking process-air temperature gap,
  overstrain as torque creeping up on a worn tool, tool-wear failures when a tool change
  is skipped; some drifts are caught by maintenance in time (no failure);
* gas, chemical-store temperature/humidity readings with rare excursions, and the alarms
  the default rules raise on them;
* hazard reports whose monthly rate follows the area's risk class and the owning
  department's training coverage; corrective actions with SLA, escalation and recurrence;
* incidents that follow hazards left unresolved; near misses; hours worked per month;
* people, training (some expired), contractors with jobs and access records,
  inspections by risk class, emergency resources, hazardous materials, cameras and zones.

Everything derives from ``numpy.random.default_rng(seed)``: same seed and end, same data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import sqlalchemy as sa

from db import models as m
from db.readings import COPY_HEADER, COPY_READINGS_SQL, COPY_TRAILER, binary_rows, ensure_partitions, refresh_rollups
from qhse.demo.response_seed import seed_response
from qhse.domain.sensor_catalog import DEFAULT_ALARM_RULES, ENV_SENSORS, MACHINE_SENSORS
from qhse.domain.sla import DEFAULT_RECTIFY_HOURS, DEFAULT_RESPONSE_HOURS, ESCALATION_ROLES
from qhse.vocab import HazardSeverity, values

UTC = dt.UTC
HOUR = 3600


@dataclass(frozen=True)
class Scale:
    name: str
    machines_per_area: int
    sample_period_s: int  # reading interval per sensor
    people_per_department: int
    days: int = 365


SCALES = {
    "small": Scale("small", machines_per_area=2, sample_period_s=3600, people_per_department=8),
    "medium": Scale("medium", machines_per_area=4, sample_period_s=1200, people_per_department=14),
    "large": Scale("large", machines_per_area=8, sample_period_s=600, people_per_department=20),
}

# ---------------------------------------------------------------------------------------
# The group: sites, departments and areas
# ---------------------------------------------------------------------------------------

SITES = [
    # code, name, industry, region, city, departments: [(code, name, stage)],
    # areas: [(code, name, kind, risk, dept, gas)]
    dict(code="SZ-ELEC", name="Shenzhen Electronics Plant", industry="electronics", region="SOUTH", city="Shenzhen",
         local={"typhoon_preparedness": True},
         departments=[("SMT", "SMT Assembly", "electronics_assembly"), ("WH", "Warehouse & Chemicals", "storage"),
                      ("FAC", "Facilities & Waste", "waste_disposal"), ("MNT", "Maintenance", "machining")],
         areas=[("SMT1", "SMT Line 1", "smt_line", "B", "SMT", False),
                ("SMT2", "SMT Line 2", "smt_line", "B", "SMT", False),
                ("CHEM", "Solvent & Flux Store", "chemical_store", "A", "WH", True),
                ("WAVE", "Wave Soldering", "soldering", "A", "SMT", True),
                ("WASTE", "Hazardous Waste Yard", "waste", "B", "FAC", True),
                ("PACK", "Packing Hall", "assembly", "C", "WH", False)]),
    dict(code="SZ-PREC", name="Dongguan Precision Instruments Plant", industry="precision_instruments", region="SOUTH",
         city="Dongguan", local={"typhoon_preparedness": True},
         departments=[("CNC", "CNC Machining", "machining"), ("ASM", "Instrument Assembly", "electronics_assembly"),
                      ("WH", "Stores", "storage"), ("FAC", "Facilities & Waste", "waste_disposal")],
         areas=[("CNC1", "CNC Cell 1", "machining", "B", "CNC", False),
                ("CNC2", "CNC Cell 2", "machining", "B", "CNC", False),
                ("CLEAN", "Ultrasonic Cleaning", "cleaning", "A", "CNC", True),
                ("ASM1", "Clean-room Assembly", "assembly", "C", "ASM", False),
                ("CHEM", "Chemical Store", "chemical_store", "A", "WH", True),
                ("WASTE", "Waste Water Treatment", "waste", "A", "FAC", True)]),
    dict(code="SU-MACH", name="Suzhou Machining Plant", industry="machining", region="EAST", city="Suzhou",
         local={"winter_heating_check": True},
         departments=[("MACH", "Machining", "machining"), ("WELD", "Welding & Fabrication", "welding"),
                      ("WH", "Stores & Chemicals", "storage"), ("FAC", "Facilities & Waste", "waste_disposal")],
         areas=[("MILL", "Milling Hall", "machining", "B", "MACH", False),
                ("TURN", "Turning Hall", "machining", "B", "MACH", False),
                ("PRESS", "Press Line", "press", "A", "MACH", False),
                ("WELD", "Welding Bay", "welding", "A", "WELD", True),
                ("CHEM", "Oil & Chemical Store", "chemical_store", "A", "WH", True),
                ("WASTE", "Swarf & Waste Oil Yard", "waste", "C", "FAC", False)]),
]

REGIONS = [("SOUTH", "South China"), ("EAST", "East China")]

MACHINE_AREA_KINDS = {"machining": "cnc_mill", "press": "press", "smt_line": "reflow_oven",
                      "soldering": "wave_solder", "welding": "welding_robot", "cleaning": "ultrasonic_cleaner"}

HAZARD_CATEGORIES = {
    "chemical_store": ["chemical", "fire", "housekeeping", "ppe", "electrical"],
    "soldering": ["fire", "chemical", "ppe", "ventilation", "electrical"],
    "cleaning": ["chemical", "ventilation", "ppe", "electrical"],
    "waste": ["chemical", "environmental", "housekeeping", "ppe"],
    "welding": ["fire", "ppe", "electrical", "ventilation"],
    "machining": ["machine_guarding", "ppe", "housekeeping", "electrical"],
    "press": ["machine_guarding", "lockout", "ppe", "electrical"],
    "smt_line": ["electrical", "ergonomics", "housekeeping", "esd"],
    "assembly": ["ergonomics", "housekeeping", "electrical", "fire"],
}
HAZARD_TITLES = {
    "chemical": "Unlabelled solvent container / leaking drum",
    "fire": "Blocked fire exit or extinguisher access",
    "housekeeping": "Oil on walkway / cluttered aisle",
    "ppe": "Worker without required PPE",
    "electrical": "Damaged cable or open electrical cabinet",
    "ventilation": "Local exhaust ventilation not working",
    "environmental": "Waste container overfilled",
    "machine_guarding": "Guard removed or interlock bypassed",
    "lockout": "Maintenance without lockout/tagout",
    "ergonomics": "Repetitive lifting above shoulder height",
    "esd": "ESD wrist strap tester failed",
}
COURSES = [("H2S", "Hydrogen sulphide awareness", 12), ("CONFINED", "Confined space entry", 24),
           ("HOTWORK", "Hot work permit", 12), ("CHEM", "Hazardous chemical handling", 24),
           ("FIRE", "Fire safety and evacuation", 12), ("FORKLIFT", "Forklift operation", 36),
           ("LOTO", "Lockout / tagout", 24), ("FIRSTAID", "First aid", 24), ("INDUCT", "Site safety induction", None)]
RISK_HAZARD_RATE = {"A": 3.2, "B": 1.8, "C": 0.8}  # hazard reports per area-month at full training
RISK_INSPECTION_DAYS = {"A": 1.0, "B": 2.0, "C": 3.5}
SEVERITY_P = {"A": [0.20, 0.45, 0.25, 0.10], "B": [0.30, 0.50, 0.15, 0.05], "C": [0.45, 0.45, 0.08, 0.02]}
SEVERITIES = values(HazardSeverity)  # SEVERITY_P gives their probabilities in this order
SLA_HOURS = DEFAULT_RESPONSE_HOURS
RECTIFY_HOURS = DEFAULT_RECTIFY_HOURS  # action due after assignment
BACKLOG_DAYS = 21  # reports of the last three weeks are still being worked on when the history ends
LOOP_REPORTING_GAIN = 3.5  # the tracked loop went live BACKLOG_DAYS ago: reporting rose this much since
BACKLOG_SLOWDOWN = 4.0  # recent fixes take this much longer (the backlog is still being worked off)
RESOURCE_KINDS = ["gas_detector", "breathing_apparatus", "extinguisher", "spill_kit", "first_aid", "eyewash"]
FIRST_NAMES = ["Wei", "Fang", "Lei", "Jing", "Min", "Tao", "Yan", "Hui", "Qiang", "Li", "Na", "Jun", "Ping", "Xin",
               "Bo"]
LAST_NAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu"]


@dataclass
class SeedSummary:
    scale: str
    seed: int
    start: dt.datetime
    end: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
    readings: int = 0
    reading_seconds: float = 0.0

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.reading_seconds if self.reading_seconds else 0.0


class SeedError(Exception):
    pass


def _month_starts(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    d = dt.date(start.year, start.month, 1)
    out = []
    while d < end.date():
        out.append(d)
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def _us(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000


class _Ids:
    def __init__(self):
        self.n: dict[str, int] = {}

    def next(self, table: str) -> int:
        self.n[table] = self.n.get(table, 0) + 1
        return self.n[table]


def database_is_empty(conn) -> bool:
    return conn.execute(sa.text("SELECT NOT EXISTS (SELECT 1 FROM site)")).scalar()


# Kept by a reset: the audit trail (append-only, see migration d2b4) and the accounts it names.
KEPT_BY_RESET = ("audit_log", "user_account", "user_site_scope")


def _reset_plan() -> tuple[list[str], list[str]]:
    """(tables to TRUNCATE, tables to DELETE from): the kept tables reference some tables (people,
    sites and what those reference), which cannot be truncated while a kept table points at them."""
    tables = {t.name: t for t in m.metadata.sorted_tables}
    delete: set[str] = set()
    todo = list(KEPT_BY_RESET)
    while todo:
        for fk in tables[todo.pop()].foreign_keys:
            target = fk.column.table.name
            if target not in KEPT_BY_RESET and target not in delete:
                delete.add(target)
                todo.append(target)
    order = [t.name for t in m.metadata.sorted_tables]
    truncate = [n for n in order if n not in delete and n not in KEPT_BY_RESET]
    return truncate, [n for n in reversed(order) if n in delete]


def reset_data(conn) -> list[tuple[int, str]]:
    """Remove the demo data from every table except the audit log and the user accounts.

    Returns the users' site scopes as (user id, site code), for :func:`restore_user_sites`
    once the new sites exist (deleting a site drops its scope rows).
    """
    scopes = [tuple(r) for r in conn.execute(sa.text(
        "SELECT us.user_id, s.code FROM user_site_scope us JOIN site s ON s.id = us.site_id"))]
    truncate, delete = _reset_plan()
    conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in truncate)))
    for name in delete:
        conn.execute(sa.text(f'DELETE FROM "{name}"'))
    # Sequences start again at 1 (RESTART IDENTITY would need their owner; setval needs UPDATE only).
    conn.execute(sa.text(
        "SELECT setval(pg_get_serial_sequence(quote_ident(c.table_name), c.column_name), 1, false) "
        "FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = ANY(:t) "
        "AND pg_get_serial_sequence(quote_ident(c.table_name), c.column_name) IS NOT NULL"),
        {"t": truncate + delete})
    conn.execute(sa.text(
        "INSERT INTO audit_log (user_id, username, action, entity, sensitive, detail) "
        "VALUES (NULL, 'system:seed', 'seed_reset', 'database', false, CAST(:d AS jsonb))"),
        {"d": '{"kept": ["audit_log", "user_account"]}'})
    return scopes


def restore_user_sites(conn, scopes: list[tuple[int, str]]) -> int:
    """Re-attach users to the sites of the same code after a reset; returns rows restored."""
    if not scopes:
        return 0
    n = 0
    for uid, code in scopes:
        n += conn.execute(sa.text(
            "INSERT INTO user_site_scope (user_id, site_id) SELECT :u, id FROM site WHERE code = :c "
            "ON CONFLICT DO NOTHING"), {"u": uid, "c": code}).rowcount
    return n


def seed(engine: sa.Engine, *, scale: str = "small", seed: int = 42, end: dt.datetime | None = None,
         reset: bool = False, progress: Callable[[str, int, int], None] | None = None) -> SeedSummary:
    """Fill an empty (or, with ``reset``, emptied) database with demo data."""
    if scale not in SCALES:
        raise SeedError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    sc = SCALES[scale]
    if end is None:
        now = dt.datetime.now(UTC)
        end = dt.datetime(now.year, now.month, now.day, tzinfo=UTC)
    end = end.astimezone(UTC)
    start = end - dt.timedelta(days=sc.days)
    rng = np.random.default_rng(seed)
    summary = SeedSummary(scale=scale, seed=seed, start=start, end=end)
    prog = progress or (lambda stage, done, total: None)

    with engine.begin() as conn:
        if not database_is_empty(conn):
            if not reset:
                raise SeedError("the database already holds data; use --reset to replace it")
            scopes = reset_data(conn)
        else:
            scopes = []
        g = _Generator(conn, rng, sc, start, end, summary, prog)
        g.organisation()
        restore_user_sites(conn, scopes)
        g.people_and_training()
        g.assets_and_sensors()
        g.alarm_rules()
        g.machine_history()
        g.environment_history()
        g.hazards_and_actions()
        g.incidents_and_hours()
        g.inspections()
        g.contractors()
        g.emergency()
        g.vision()
        seed_response(conn, end=end)  # contractors' sign-offs, inductions, regulation register
        g.fix_sequences()
    with engine.begin() as conn:
        prog("rollups", 0, 1)
        refresh_rollups(conn, start, end + dt.timedelta(days=1))
        prog("rollups", 1, 1)
    with engine.connect() as conn:
        for t in m.metadata.sorted_tables:
            if t.name == "sensor_reading":
                continue
            summary.counts[t.name] = conn.execute(sa.text(f'SELECT count(*) FROM "{t.name}"')).scalar()
    summary.counts["sensor_reading"] = summary.readings
    return summary


class _Generator:
    def __init__(self, conn, rng, sc: Scale, start, end, summary: SeedSummary, prog):
        self.conn, self.rng, self.sc, self.start, self.end = conn, rng, sc, start, end
        self.summary, self.prog = summary, prog
        self.ids = _Ids()
        self.sites: list[dict] = []
        self.areas: list[dict] = []
        self.depts: list[dict] = []
        self.people: list[dict] = []
        self.assets: list[dict] = []
        self.sensors: list[dict] = []
        self.rules: list[dict] = []
        self.training_coverage: dict[int, float] = {}
        self.hazards: list[dict] = []

    # -- helpers -----------------------------------------------------------------------
    def insert(self, model, rows: list[dict]) -> None:
        if rows:
            self.conn.execute(sa.insert(model.__table__), rows)

    def rand_time(self, lo: dt.datetime, hi: dt.datetime) -> dt.datetime:
        span = max(1, int((hi - lo).total_seconds()))
        return lo + dt.timedelta(seconds=int(self.rng.integers(0, span)))

    def name(self) -> str:
        return f"{self.rng.choice(LAST_NAMES)} {self.rng.choice(FIRST_NAMES)}"

    # -- organisation -------------------------------------------------------------------
    def organisation(self) -> None:
        self.insert(m.Enterprise, [dict(id=1, name="Huaxin Manufacturing Group")])
        region_ids = {}
        for i, (code, _name) in enumerate(REGIONS, 1):
            region_ids[code] = i
        self.insert(m.Region, [dict(id=i, enterprise_id=1, code=c, name=n) for c, i, n in
                               ((c, region_ids[c], n) for c, n in REGIONS)])
        for s in SITES:
            sid = self.ids.next("site")
            site = dict(id=sid, region_id=region_ids[s["region"]], code=s["code"], name=s["name"],
                        industry=s["industry"], timezone="Asia/Shanghai", city=s["city"],
                        settings={"local_indicators": s["local"],
                                  "calendar": {"workdays": [0, 1, 2, 3, 4, 5], "start": "08:00", "end": "20:00"}})
            self.sites.append(site)
            dept_by_code = {}
            for code, name, stage in s["departments"]:
                did = self.ids.next("department")
                d = dict(id=did, site_id=sid, code=code, name=name, stage=stage)
                self.depts.append(d)
                dept_by_code[code] = d
            for j, (code, name, kind, risk, dcode, gas) in enumerate(s["areas"]):
                aid = self.ids.next("area")
                self.areas.append(dict(id=aid, site_id=sid, department_id=dept_by_code[dcode]["id"], code=code,
                                       name=name, kind=kind, risk_class=risk, is_gas_area=gas,
                                       evacuation_route=f"Exit via corridor {chr(65 + j)} to the east gate",
                                       assembly_point=f"Assembly point {1 + j % 3} ({s['city']} car park)",
                                       x_m=float(30 * (j % 3)), y_m=float(40 * (j // 3))))
        self.insert(m.Site, self.sites)
        self.insert(m.Department, self.depts)
        posts = []
        for d in self.depts:
            for code, name, hz in (("OP", "Operator", True), ("TECH", "Technician", True),
                                   ("SUP", "Supervisor", False)):
                posts.append(dict(id=self.ids.next("post"), department_id=d["id"], code=code,
                                  name=f"{d['name']} {name}", hazardous=hz))
        self.posts = posts
        self.insert(m.Post, posts)
        self.insert(m.Area, [{k: v for k, v in a.items()} for a in self.areas])
        self.prog("organisation", 1, 1)

    # -- people, training ------------------------------------------------------------------
    def people_and_training(self) -> None:
        rng = self.rng
        courses = [dict(id=i, code=c, name=n, validity_months=v) for i, (c, n, v) in enumerate(COURSES, 1)]
        self.insert(m.TrainingCourse, courses)
        people, records = [], []
        # Departments differ in training discipline; coverage drives hazard rates later.
        for d in self.depts:
            discipline = float(rng.uniform(0.55, 0.98))
            self.training_coverage[d["id"]] = discipline
            dposts = [p for p in self.posts if p["department_id"] == d["id"]]
            for k in range(self.sc.people_per_department):
                pid = self.ids.next("person")
                post = dposts[0] if k >= 2 else dposts[2 if k == 0 else 1]
                people.append(dict(
                    id=pid, employee_no=f"E{pid:05d}", name=self.name(), kind="employee", site_id=d["site_id"],
                    department_id=d["id"], post_id=post["id"],
                    hired_on=(self.start - dt.timedelta(days=int(rng.integers(30, 3000)))).date(),
                    active=True, phone=f"+86 138 {pid:04d} {int(rng.integers(1000, 9999))}",
                    email=f"e{pid:05d}@huaxin.example",
                    blood_type=str(rng.choice(["A", "B", "AB", "O"])),
                    medical_conditions=str(rng.choice(["none", "none", "none", "asthma", "hypertension",
                                                       "hearing loss"])),
                    last_medical_exam_on=(self.end - dt.timedelta(days=int(rng.integers(10, 500)))).date(),
                    fit_for_duty=bool(rng.random() > 0.03)))
                for c in courses:
                    if c["code"] == "INDUCT" or rng.random() < 0.6:
                        # Disciplined departments refresh on time; others let training lapse.
                        age_days = int(rng.integers(0, 365 * 2))
                        completed = (self.end - dt.timedelta(days=age_days)).date()
                        if rng.random() < discipline and c["validity_months"]:
                            completed = (self.end - dt.timedelta(
                                days=int(rng.integers(0, 30 * c["validity_months"] - 20)))).date()
                        expires = ((completed + dt.timedelta(days=30 * c["validity_months"]))
                                   if c["validity_months"] else None)
                        records.append(dict(id=self.ids.next("training_record"), person_id=pid, course_id=c["id"],
                                            completed_on=completed, expires_on=expires,
                                            score=float(np.round(rng.uniform(70, 100), 1)), passed=True))
        self.people = people
        self.insert(m.Person, people)
        self.insert(m.TrainingRecord, records)
        # Actual coverage = share of hazardous-area courses currently valid.
        valid = {}
        for r in records:
            ok = r["expires_on"] is None or r["expires_on"] >= self.end.date()
            valid.setdefault(r["person_id"], []).append(ok)
        for d in self.depts:
            vals = [x for p in people if p["department_id"] == d["id"] for x in valid.get(p["id"], [])]
            self.training_coverage[d["id"]] = float(np.mean(vals)) if vals else 0.0
        # Area owners: the department supervisor.
        for a in self.areas:
            sup = next(p for p in people if p["department_id"] == a["department_id"])
            a["owner_person_id"] = sup["id"]
            self.conn.execute(sa.update(m.Area.__table__).where(m.Area.__table__.c.id == a["id"])
                              .values(owner_person_id=sup["id"]))
        self.prog("people", 1, 1)

    # -- assets & sensors ----------------------------------------------------------------
    def assets_and_sensors(self) -> None:
        rng = self.rng
        assets, sensors = [], []
        site_by_id = {s["id"]: s for s in self.sites}
        for a in self.areas:
            kind = MACHINE_AREA_KINDS.get(a["kind"])
            if kind:
                for k in range(self.sc.machines_per_area):
                    aid = self.ids.next("asset")
                    code = f"{site_by_id[a['site_id']]['code']}-{a['code']}-M{k + 1:02d}"
                    assets.append(dict(id=aid, site_id=a["site_id"], area_id=a["id"], code=code,
                                       name=f"{a['name']} machine {k + 1}", kind=kind,
                                       product_type=str(rng.choice(["L", "M", "H"], p=[0.5, 0.3, 0.2])),
                                       manufacturer=str(rng.choice(["DMG Mori", "Haas", "Mazak", "Heller", "Fuji"])),
                                       installed_at=self.start - dt.timedelta(days=int(rng.integers(200, 3000))),
                                       active=True))
                    for skind, unit, lo, hi, wh, ah in MACHINE_SENSORS:
                        sensors.append(dict(id=self.ids.next("sensor"), site_id=a["site_id"], area_id=a["id"],
                                            asset_id=aid,
                                            code=f"{code}-{skind}", kind=skind, unit=unit, min_valid=lo, max_valid=hi,
                                            warn_high=wh, alarm_high=ah, warn_low=None, alarm_low=None,
                                            sample_period_s=self.sc.sample_period_s, active=True))
            for skind, unit, lo, hi, wl, wh, al, ah in ENV_SENSORS.get(a["kind"], []):
                code = f"{site_by_id[a['site_id']]['code']}-{a['code']}-{skind}"
                sensors.append(dict(id=self.ids.next("sensor"), site_id=a["site_id"], area_id=a["id"], asset_id=None,
                                    code=code, kind=skind, unit=unit, min_valid=lo, max_valid=hi, warn_low=wl,
                                    warn_high=wh,
                                    alarm_low=al, alarm_high=ah, sample_period_s=self.sc.sample_period_s, active=True))
        self.assets, self.sensors = assets, sensors
        self.insert(m.Asset, assets)
        self.insert(m.Sensor, sensors)

    def alarm_rules(self) -> None:
        rows = []
        for i, (name, skind, kind, op, thr, clr, dur, sev) in enumerate(DEFAULT_ALARM_RULES, 1):
            rows.append(dict(id=i, name=name, sensor_kind=skind, sensor_id=None, site_id=None, kind=kind, op=op,
                             threshold=thr, clear_threshold=clr, duration_s=dur, severity=sev, enabled=True,
                             description=None))
        self.rules = rows
        self.ids.n["alarm_rule"] = len(rows)
        self.insert(m.AlarmRule, rows)

    # -- readings -------------------------------------------------------------------------
    def _times(self) -> np.ndarray:
        p = self.sc.sample_period_s
        t0 = int(self.start.timestamp())
        n = int((self.end - self.start).total_seconds()) // p
        return t0 + np.arange(n, dtype=np.int64) * p

    def _copy(self, chunks: list[bytes]) -> None:
        import time

        raw = self.conn.connection.driver_connection  # psycopg.Connection
        t = time.perf_counter()
        with raw.cursor() as cur, cur.copy(COPY_READINGS_SQL) as cp:
            cp.write(COPY_HEADER)
            for c in chunks:
                cp.write(c)
            cp.write(COPY_TRAILER)
        self.summary.reading_seconds += time.perf_counter() - t

    def machine_history(self) -> None:
        """Simulate each machine: wear processes, maintenance, failures; write its readings."""
        rng = self.rng
        ensure_partitions(self.conn, self.start, self.end + dt.timedelta(days=62))
        t = self._times()
        n = len(t)
        p = self.sc.sample_period_s
        steps_per_h = HOUR / p
        day_phase = 2 * np.pi * ((t % 86400) / 86400.0)
        doy = np.array([dt.datetime.fromtimestamp(int(x), UTC).timetuple().tm_yday
                        for x in t[:: max(1, int(86400 // p))]])
        season = np.repeat(np.cos(2 * np.pi * (doy - 200) / 365.0), max(1, int(86400 // p)))[:n]
        if len(season) < n:
            season = np.pad(season, (0, n - len(season)), mode="edge")
        maint, failures = [], []
        sensors_by_asset: dict[int, dict[str, dict]] = {}
        for s in self.sensors:
            if s["asset_id"]:
                sensors_by_asset.setdefault(s["asset_id"], {})[s["kind"]] = s
        # Running state: 2 shifts, 6 days/week (local time, UTC+8); off otherwise.
        dow = ((t // 86400) + 3) % 7  # 1970-01-01 was a Thursday -> 0 = Monday
        hod = ((t % 86400) / 3600.0 + 8) % 24
        running = ((dow < 6) & (hod >= 8) & (hod < 24)).astype(float)
        total = len(self.assets)
        for idx, a in enumerate(self.assets):
            pt = a["product_type"]
            base_rpm = {"L": 1500, "M": 1540, "H": 1580}[pt] + rng.normal(0, 20)
            air = 298.0 + 3.0 * season + 1.2 * np.sin(day_phase - 2.0) + np.cumsum(rng.normal(0, 0.02, n))
            air = air - np.linspace(0, air[-1] - air[0], n) * 0.9  # keep the random walk from running away
            gap = np.full(n, 10.0 + rng.normal(0, 0.3))
            torque = np.full(n, 40.0 + rng.normal(0, 2))
            vib = np.full(n, 2.2 + rng.uniform(-0.3, 0.5))
            # Wear episodes: (mode, ramp_days, fails)
            ep_rate = 1 / 75.0  # per day per machine
            n_ep = rng.poisson(ep_rate * self.sc.days)
            episodes = []
            for _ in range(n_ep):
                mode = str(rng.choice(["bearing", "HDF", "OSF", "PWF"], p=[0.4, 0.25, 0.2, 0.15]))
                ramp_days = float(rng.uniform(4, 12))
                end_i = int(rng.integers(int(15 * 86400 / p), n - 1))
                start_i = max(0, end_i - int(ramp_days * 86400 / p))
                fails = rng.random() < 0.7  # some are caught by maintenance in time
                if any(abs(end_i - e[1]) < 20 * 86400 / p for e in episodes):
                    continue
                episodes.append((start_i, end_i, mode, fails))
            episodes.sort(key=lambda e: e[1])
            for s_i, e_i, mode, fails in episodes:
                ramp = np.zeros(n)
                ramp[s_i:e_i] = np.linspace(0, 1, e_i - s_i) ** 2
                if mode == "bearing":
                    vib += ramp * rng.uniform(5.5, 8.0)
                    gap += ramp * rng.uniform(1.5, 3.0)
                elif mode == "HDF":
                    gap -= ramp * rng.uniform(2.5, 3.5)
                    vib += ramp * 0.6
                elif mode == "OSF":
                    torque += ramp * rng.uniform(14, 22)
                elif mode == "PWF":
                    torque += ramp * rng.uniform(20, 28)
                    vib += ramp * 1.2
                when = dt.datetime.fromtimestamp(int(t[e_i]), UTC)
                if fails:
                    failures.append(dict(id=self.ids.next("failure_event"), asset_id=a["id"], occurred_at=when,
                                         mode=mode, downtime_h=float(np.round(rng.uniform(2, 36), 1)),
                                         note=f"{mode} failure after {int((e_i - s_i) * p / 86400)} days of drift"))
                    maint.append(dict(id=self.ids.next("maintenance_event"), asset_id=a["id"], kind="corrective",
                                      started_at=when + dt.timedelta(hours=1), ended_at=when + dt.timedelta(hours=8),
                                      note=f"Repair after {mode} failure"))
                else:
                    maint.append(dict(id=self.ids.next("maintenance_event"), asset_id=a["id"], kind="preventive",
                                      started_at=when, ended_at=when + dt.timedelta(hours=4),
                                      note=f"Condition-based maintenance: {mode} drift caught early"))
            # Tool wear: grows while running (~2 min per running hour); changed at 180-230 min,
            # except occasionally missed -> tool-wear failure once past 240.
            wear = np.zeros(n)
            w = float(rng.uniform(0, 150))
            change_at = float(rng.uniform(180, 230))
            inc = running * (2.0 / steps_per_h) * rng.uniform(0.8, 1.2, n)
            for i in range(n):
                w += inc[i]
                if w >= change_at:
                    when = dt.datetime.fromtimestamp(int(t[i]), UTC)
                    if change_at > 235:
                        failures.append(dict(id=self.ids.next("failure_event"), asset_id=a["id"], occurred_at=when,
                                             mode="TWF", downtime_h=float(np.round(rng.uniform(1, 6), 1)),
                                             note="Tool broke: tool change overdue"))
                    maint.append(dict(id=self.ids.next("maintenance_event"), asset_id=a["id"], kind="tool_change",
                                      started_at=when, ended_at=when + dt.timedelta(minutes=30), note=None))
                    w = 0.0
                    change_at = float(rng.uniform(180, 230)) if rng.random() > 0.04 else float(rng.uniform(238, 255))
                wear[i] = w
            # Signals; off-shift the spindle idles.
            rpm = base_rpm + rng.normal(0, 25, n) - (torque - 40.0) * 9.0
            rpm = np.where(running > 0, rpm, 0.0)
            tq = np.where(running > 0, torque + rng.normal(0, 2.0, n) + wear * 0.01, 0.0)
            proc = air + gap + np.where(running > 0, 0.0, -1.5) + rng.normal(0, 0.25, n)
            vibr = np.where(running > 0, vib + rng.normal(0, 0.25, n), 0.3 + rng.normal(0, 0.05, n)).clip(0.05)
            airn = air + rng.normal(0, 0.2, n)
            chunks = []
            series = {"air_temp": airn, "process_temp": proc, "rpm": rpm, "torque": tq, "tool_wear": wear,
                      "vibration": vibr}
            for kind, vals in series.items():
                sid = sensors_by_asset[a["id"]][kind]["id"]
                chunks.append(binary_rows(sid, t * 1_000_000, np.round(vals, 3)))
            self._copy(chunks)
            self.summary.readings += n * len(series)
            self.prog("machine readings", idx + 1, total)
        self.insert(m.FailureEvent, failures)
        self.insert(m.MaintenanceEvent, maint)

    def environment_history(self) -> None:
        rng = self.rng
        t = self._times()
        n = len(t)
        p = self.sc.sample_period_s
        doy_frac = ((t - t[0]) / 86400.0) / 365.0
        season = np.cos(2 * np.pi * (doy_frac - 0.55))
        hod = ((t % 86400) / 3600.0 + 8) % 24
        rule_by_kind: dict[str, list[dict]] = {}
        for r in self.rules:
            rule_by_kind.setdefault(r["sensor_kind"], []).append(r)
        alarms = []
        env = [s for s in self.sensors if s["asset_id"] is None]
        for k, s in enumerate(env):
            kind = s["kind"]
            if kind == "voc":
                vals = rng.lognormal(math.log(12), 0.35, n)
                n_exc = rng.poisson(1.2 * self.sc.days / 30)
                for _ in range(n_exc):
                    i = int(rng.integers(0, n - 4))
                    length = int(rng.integers(1, max(2, int(4 * HOUR / p))))
                    vals[i:i + length] += (rng.uniform(45, 260)
                                           * np.exp(-np.arange(min(length, n - i)) / max(1, length / 2)))
            elif kind == "o2":
                vals = 20.9 + rng.normal(0, 0.05, n)
                for _ in range(rng.poisson(0.3 * self.sc.days / 30)):
                    i = int(rng.integers(0, n - 3))
                    vals[i:i + 2] -= rng.uniform(1.0, 2.5)
            elif kind == "h2s":
                vals = np.abs(rng.normal(0.6, 0.4, n))
                for _ in range(rng.poisson(0.8 * self.sc.days / 30)):
                    i = int(rng.integers(0, n - 3))
                    vals[i:i + 2] += rng.uniform(6, 25)
            elif kind == "temperature":
                vals = 24 + 7 * season + 2.5 * np.sin(2 * np.pi * (hod - 9) / 24) + rng.normal(0, 0.6, n)
            elif kind == "humidity":
                vals = (62 + 14 * season + rng.normal(0, 4, n)).clip(15, 99)
            else:
                vals = rng.normal(0, 1, n)
            vals = np.round(vals, 3)
            self._copy([binary_rows(s["id"], t * 1_000_000, vals)])
            self.summary.readings += n
            # Historical alarms: the default threshold rules applied to the series.
            for r in rule_by_kind.get(kind, []):
                if r["kind"] != "threshold":
                    continue
                cond = vals > r["threshold"] if r["op"] == ">" else vals < r["threshold"]
                clear = (vals <= r["clear_threshold"]) if r["op"] == ">" else (vals >= r["clear_threshold"])
                i = 0
                while i < n:
                    if cond[i]:
                        j = i
                        while j < n and not clear[j]:
                            j += 1
                        seg = vals[i:min(j + 1, n)]
                        raised = dt.datetime.fromtimestamp(int(t[i]), UTC)
                        cleared = dt.datetime.fromtimestamp(int(t[j]), UTC) if j < n else None
                        peak = float(seg.max() if r["op"] == ">" else seg.min())
                        ack = raised + dt.timedelta(minutes=int(rng.integers(2, 90)))
                        alarms.append(dict(
                            id=self.ids.next("alarm"), rule_id=r["id"], sensor_id=s["id"], site_id=s["site_id"],
                            area_id=s["area_id"], severity=r["severity"],
                            status="cleared" if cleared else "open", raised_at=raised,
                            updated_at=cleared or raised, first_value=float(vals[i]),
                            last_value=float(vals[min(j, n - 1)]), peak_value=peak, update_count=int(max(1, j - i)),
                            acknowledged_at=ack if cleared else None, acknowledged_by="hse.duty" if cleared else None,
                            cleared_at=cleared, message=f"{r['name']}: {float(vals[i]):.1f} {s['unit']}"))
                        i = j + 1
                    else:
                        i += 1
            self.prog("environment readings", k + 1, len(env))
        self.insert(m.Alarm, alarms)

    # -- hazards, actions ------------------------------------------------------------------
    def hazards_and_actions(self) -> None:
        rng = self.rng
        months = _month_starts(self.start, self.end)
        policies = []
        for sev, hrs in SLA_HOURS.items():
            policies.append(dict(id=self.ids.next("sla_policy"), site_id=None, category=None, severity=sev,
                                 response_hours=hrs, use_calendar=False))
        self.insert(m.SlaPolicy, policies)
        dept_by_site: dict[int, dict[str, int]] = {}
        for d in self.depts:
            dept_by_site.setdefault(d["site_id"], {})[d["code"]] = d["id"]
        rules = []
        for s in self.sites:
            maint_d = dept_by_site[s["id"]].get("MNT") or dept_by_site[s["id"]].get("FAC")
            rules.append(dict(id=self.ids.next("dispatch_rule"), site_id=s["id"], area_id=None, category="electrical",
                              min_severity=None, department_ids=sorted({maint_d, dept_by_site[s["id"]]["FAC"]}),
                              priority=10, active=True))
        self.insert(m.DispatchRule, rules)
        people_by_dept: dict[int, list[int]] = {}
        for p in self.people:
            people_by_dept.setdefault(p["department_id"], []).append(p["id"])
        # Cross-department categories (the dispatch rules above): one action per department.
        joint = {(r["site_id"], r["category"]): r["department_ids"] for r in rules}
        dept_name = {d["id"]: d["name"] for d in self.depts}
        hazards, transitions, actions, escalations = [], [], [], []
        last_by_key: dict[tuple, dict] = {}
        horizon_end = self.end
        for a in self.areas:
            cov = self.training_coverage[a["department_id"]]
            lam = RISK_HAZARD_RATE[a["risk_class"]] * (1.0 + 2.0 * (1.0 - cov))
            cats = HAZARD_CATEGORIES.get(a["kind"], ["housekeeping"])
            reporters = people_by_dept.get(a["department_id"], [])
            times = []
            for mo in months:
                mo_start = dt.datetime(mo.year, mo.month, 1, tzinfo=UTC)
                mo_end = dt.datetime(mo.year + (mo.month == 12), mo.month % 12 + 1, 1, tzinfo=UTC)
                times += [self.rand_time(max(mo_start, self.start), min(mo_end, horizon_end))
                          for _ in range(rng.poisson(lam))]
            # Since the loop went live, people report more: extra reports over the backlog window.
            backlog_start = horizon_end - dt.timedelta(days=BACKLOG_DAYS)
            times += [self.rand_time(backlog_start, horizon_end)
                      for _ in range(rng.poisson(lam * (LOOP_REPORTING_GAIN - 1) * BACKLOG_DAYS / 30.44))]
            for reported in sorted(times):
                sev = str(rng.choice(SEVERITIES, p=SEVERITY_P[a["risk_class"]]))
                cat = str(rng.choice(cats))
                hid = self.ids.next("hazard_report")
                sla_h = SLA_HOURS[sev]
                h = dict(id=hid, site_id=a["site_id"], area_id=a["id"], asset_id=None, category=cat,
                         title=HAZARD_TITLES.get(cat, cat), description=f"{HAZARD_TITLES.get(cat, cat)} in {a['name']}",
                         location=a["name"], severity=sev,
                         likelihood=int(min(5, max(1, rng.integers(1, 6) + (a["risk_class"] == "A")))),
                         consequence=int({"low": 1, "normal": 2, "high": 4, "severe": 5}[sev] - rng.integers(0, 2)),
                         source=str(rng.choice(["worker", "inspection", "worker"])),
                         reporter_person_id=int(rng.choice(reporters)) if reporters else None, reporter_user_id=None,
                         photo_path=None, reported_at=reported,
                         response_due_at=reported + dt.timedelta(hours=sla_h),
                         responded_at=None, rectified_at=None, verified_at=None, closed_at=None, reject_reason=None,
                         is_repeat=False, predecessor_id=None, inspection_id=None, points_awarded=0)
                h["consequence"] = max(1, h["consequence"])
                key = (a["id"], cat)
                prev = last_by_key.get(key)
                if prev and reported - prev["reported_at"] <= dt.timedelta(days=30):
                    h["is_repeat"], h["predecessor_id"] = True, prev["id"]
                # Lifecycle. Poorly trained departments respond and rectify more slowly.
                slow = 1.0 + 2.5 * (1.0 - cov)
                resp_h = float(rng.exponential(sla_h * 0.45 * slow))
                rect_h = resp_h + float(rng.exponential(24 * 3 * slow)) + 2
                age_h = (horizon_end - reported).total_seconds() / 3600
                if age_h < BACKLOG_DAYS * 24:
                    # The open backlog: recent reports wait longer for an answer, and most fixes
                    # (spare parts, shutdown windows, contractors) are still under way.
                    rect_h = 2.0 * resp_h + (rect_h - resp_h) * BACKLOG_SLOWDOWN
                    resp_h *= 2.0
                status = "reported"
                trans = [(None, "reported", reported, "reporter")]
                if rng.random() < 0.04:
                    status = "rejected"
                    h["reject_reason"] = "Duplicate of an open report"
                    trans.append(("reported", "rejected", reported + dt.timedelta(hours=min(resp_h, age_h * 0.9)),
                                  "hse.officer"))
                elif resp_h < age_h:
                    h["responded_at"] = reported + dt.timedelta(hours=resp_h)
                    status = "assigned"
                    trans.append(("reported", "assigned", h["responded_at"], "dispatcher"))
                    if rect_h < age_h:
                        h["rectified_at"] = reported + dt.timedelta(hours=rect_h)
                        trans.append(("assigned", "in_progress", reported + dt.timedelta(hours=(resp_h + rect_h) / 2),
                                      "owner"))
                        trans.append(("in_progress", "rectified", h["rectified_at"], "owner"))
                        status = "rectified"
                        ver_h = rect_h + float(rng.exponential(12)) + 1
                        if ver_h < age_h:
                            h["verified_at"] = reported + dt.timedelta(hours=ver_h)
                            h["closed_at"] = h["verified_at"] + dt.timedelta(minutes=30)
                            trans.append(("rectified", "verified", h["verified_at"], "hse.officer"))
                            trans.append(("verified", "closed", h["closed_at"], "hse.officer"))
                            status = "closed"
                    elif rng.random() < 0.6:
                        status = "in_progress"
                        trans.append(("assigned", "in_progress",
                                      reported + dt.timedelta(hours=min(age_h * 0.95, resp_h + 4)), "owner"))
                h["status"] = status
                if status != "rejected":
                    last_by_key[key] = h  # rejected reports are nobody's predecessor
                if status not in ("rejected", "reported"):  # points once the report is accepted
                    h["points_awarded"] = {"low": 5, "normal": 10, "high": 15, "severe": 20}[sev]
                for fr, to, at, actor in trans:
                    transitions.append(dict(id=self.ids.next("hazard_transition"), hazard_id=hid, from_status=fr,
                                            to_status=to, actor=actor, at=at, note=None))
                if h["responded_at"] is not None:
                    due = h["responded_at"] + dt.timedelta(hours=RECTIFY_HOURS[sev])
                    done = h["rectified_at"]
                    depts = joint.get((a["site_id"], cat)) or [a["department_id"]]
                    for dep in depts:
                        others = [dept_name[o] for o in depts if o != dep]
                        act = dict(id=self.ids.next("corrective_action"), hazard_id=hid, department_id=dep,
                                   owner_person_id=(a.get("owner_person_id") if dep == a["department_id"]
                                                    else people_by_dept[dep][0]),
                                   description=f"Rectify: {h['title']}"
                                   + (f" (joint action with {', '.join(others)})" if others else ""),
                                   created_at=h["responded_at"], due_at=due,
                                   completed_at=done, verified_at=h["verified_at"],
                                   verified_by="hse.officer" if h["verified_at"] else None,
                                   status="verified" if h["verified_at"] else (
                                       "done" if done else ("in_progress" if status == "in_progress" else "open")),
                                   escalation_level=0, last_escalated_at=None,
                                   cost=round(float(rng.lognormal(6, 1)), 2), currency="CNY")
                        # One level per full SLA period past due (owner -> area -> plant -> group),
                        # as qhse.services.sla escalates them.
                        ref = done or horizon_end
                        lvl = min(3, int((ref - due).total_seconds() // (sla_h * 3600))) if ref > due else 0
                        for L in range(1, lvl + 1):
                            escalations.append(dict(id=self.ids.next("action_escalation"), action_id=act["id"], level=L,
                                                    escalated_at=due + dt.timedelta(hours=sla_h * L),
                                                    notified=ESCALATION_ROLES[L]))
                        if lvl:
                            act["escalation_level"] = lvl
                            act["last_escalated_at"] = escalations[-1]["escalated_at"]
                        actions.append(act)
                hazards.append(h)
        self.hazards = hazards
        self.insert(m.HazardReport, hazards)
        self.insert(m.HazardTransition, transitions)
        self.insert(m.CorrectiveAction, actions)
        self.insert(m.ActionEscalation, escalations)
        self.prog("hazards", 1, 1)

    # -- incidents, hours -------------------------------------------------------------------
    def incidents_and_hours(self) -> None:
        rng = self.rng
        incidents = []
        area_by_id = {a["id"]: a for a in self.areas}
        people_by_dept: dict[int, list[int]] = {}
        for p in self.people:
            people_by_dept.setdefault(p["department_id"], []).append(p["id"])
        for h in self.hazards:
            # Unresolved hazards breed incidents: risk grows with severity and days left open.
            open_until = h["rectified_at"] or self.end
            days_open = (open_until - h["reported_at"]).total_seconds() / 86400
            sev_w = {"low": 0.005, "normal": 0.012, "high": 0.03, "severe": 0.06}[h["severity"]]
            p_inc = 1 - math.exp(-sev_w * days_open)
            if rng.random() < p_inc:
                a = area_by_id[h["area_id"]]
                when = h["reported_at"] + dt.timedelta(hours=float(rng.uniform(1, max(2, days_open * 24))))
                if when >= self.end:
                    continue
                kind = str(rng.choice(["near_miss", "first_aid", "injury", "property_damage"],
                                      p=[0.55, 0.2, 0.18, 0.07]))
                recordable = kind == "injury"
                lost = recordable and rng.random() < 0.45
                days_away = int(rng.integers(1, 30)) if lost else 0
                restricted = recordable and not lost and rng.random() < 0.5
                incidents.append(dict(
                    id=self.ids.next("incident"), site_id=a["site_id"], area_id=a["id"],
                    department_id=a["department_id"],
                    person_id=int(rng.choice(people_by_dept[a["department_id"]])), occurred_at=when, kind=kind,
                    recordable=recordable, lost_time=lost, restricted_or_transfer=restricted, days_away=days_away,
                    days_restricted=int(rng.integers(1, 15)) if restricted else 0, fatality=False,
                    contractor_involved=bool(rng.random() < 0.3),
                    description=f"{kind.replace('_', ' ').title()} linked to hazard #{h['id']}: {h['title']}",
                    related_hazard_id=h["id"], cost=round(float(rng.lognormal(7, 1.2)), 2), currency="CNY"))
        # Background near misses not tied to a report.
        for a in self.areas:
            for _ in range(rng.poisson({"A": 6, "B": 3, "C": 1}[a["risk_class"]] * self.sc.days / 365)):
                incidents.append(dict(
                    id=self.ids.next("incident"), site_id=a["site_id"], area_id=a["id"],
                    department_id=a["department_id"],
                    person_id=None, occurred_at=self.rand_time(self.start, self.end), kind="near_miss",
                    recordable=False,
                    lost_time=False, restricted_or_transfer=False, days_away=0, days_restricted=0, fatality=False,
                    contractor_involved=False, description="Near miss reported at shift briefing",
                    related_hazard_id=None, cost=None, currency="CNY"))
        self.insert(m.Incident, incidents)
        hours = []
        headcount: dict[int, int] = {}
        for p in self.people:
            headcount[p["department_id"]] = headcount.get(p["department_id"], 0) + 1
        for mo in _month_starts(self.start, self.end):
            for d in self.depts:
                # People in the data stand for crews: each counts as 25 shop-floor workers.
                hc = headcount.get(d["id"], 0) * 25
                hrs = hc * float(rng.uniform(168, 184))
                hours.append(dict(id=self.ids.next("hours_worked"), site_id=d["site_id"], department_id=d["id"],
                                  month=mo, hours=round(hrs, 2), headcount=hc,
                                  contractor_hours=round(hrs * float(rng.uniform(0.03, 0.1)), 2)))
        self.insert(m.HoursWorked, hours)

    # -- inspections ---------------------------------------------------------------------------
    def inspections(self) -> None:
        rng = self.rng
        routes, insps = [], []
        checklist = [
            {"key": "exits_clear", "label": "Emergency exits clear", "required": True, "type": "bool"},
            {"key": "extinguishers_ok", "label": "Extinguishers in place and charged", "required": True,
             "type": "bool"},
            {"key": "ppe_worn", "label": "Required PPE worn", "required": True, "type": "bool"},
            {"key": "housekeeping", "label": "Housekeeping (1-5)", "required": True, "type": "number"},
            {"key": "remarks", "label": "Remarks", "required": False, "type": "text"},
        ]
        people_by_dept: dict[int, list[int]] = {}
        for p in self.people:
            people_by_dept.setdefault(p["department_id"], []).append(p["id"])
        for a in self.areas:
            rid = self.ids.next("inspection_route")
            routes.append(dict(id=rid, site_id=a["site_id"], area_id=a["id"], name=f"{a['name']} safety round",
                               frequency_days=None, checklist=checklist, active=True))
            step = dt.timedelta(days=RISK_INSPECTION_DAYS[a["risk_class"]])
            due = self.end - dt.timedelta(days=90)
            while due < self.end + dt.timedelta(days=2):
                due_at = due.replace(hour=9)
                if due_at >= self.end:
                    insps.append(dict(id=self.ids.next("inspection"), route_id=rid, area_id=a["id"], due_at=due_at,
                                      performed_at=None, inspector_person_id=None, status="scheduled", results={},
                                      findings=0))
                elif rng.random() < 0.06 + 0.1 * (1 - self.training_coverage[a["department_id"]]):
                    insps.append(dict(id=self.ids.next("inspection"), route_id=rid, area_id=a["id"], due_at=due_at,
                                      performed_at=None, inspector_person_id=None, status="missed", results={},
                                      findings=0))
                else:
                    ok = rng.random() > 0.15
                    insps.append(dict(id=self.ids.next("inspection"), route_id=rid, area_id=a["id"], due_at=due_at,
                                      performed_at=due_at + dt.timedelta(hours=float(rng.uniform(0, 6))),
                                      inspector_person_id=int(rng.choice(people_by_dept[a["department_id"]])),
                                      status="done",
                                      results={"exits_clear": True, "extinguishers_ok": True, "ppe_worn": bool(ok),
                                               "housekeeping": int(rng.integers(3, 6))}, findings=0 if ok else 1))
                due += step
        self.insert(m.InspectionRoute, routes)
        self.insert(m.Inspection, insps)

    # -- contractors -----------------------------------------------------------------------------
    def contractors(self) -> None:
        rng = self.rng
        companies, quals, workers, jobs, job_workers, access = [], [], [], [], [], []
        names = ["Pearl River Electrical Works", "Jiangnan Scaffolding Co.", "Minghua Welding Services",
                 "Greenline Waste Logistics", "Kaiyuan HVAC Engineering", "Taihu Industrial Cleaning"]
        for i, n in enumerate(names):
            cid = self.ids.next("contractor_company")
            status = "approved" if i < 5 else "pending"
            companies.append(dict(id=cid, name=n, licence_no=f"91440300MA5{cid:05d}", status=status,
                                  licence_expires_on=(self.end + dt.timedelta(days=int(rng.integers(-20, 400)))).date(),
                                  approved_safety_by="hse.manager" if status == "approved" else None,
                                  approved_safety_at=(self.start + dt.timedelta(days=10)
                                                      if status == "approved" else None),
                                  approved_legal_by="legal.officer" if status == "approved" else None,
                                  approved_legal_at=(self.start + dt.timedelta(days=12)
                                                     if status == "approved" else None)))
            quals.append(dict(id=self.ids.next("qualification"), company_id=cid, person_id=None, kind="safety_licence",
                              number=f"SL-{cid:04d}",
                              expires_on=(self.end + dt.timedelta(days=int(rng.integers(-30, 500)))).date()))
            site = self.sites[i % len(self.sites)]
            for _k in range(4):
                pid = self.ids.next("person")
                score = float(np.round(rng.uniform(65, 100), 1))
                workers.append(dict(id=pid, employee_no=f"C{pid:05d}", name=self.name(), kind="contractor",
                                    site_id=site["id"],
                                    department_id=None, post_id=None, contractor_company_id=cid, induction_score=score,
                                    induction_passed_at=self.start + dt.timedelta(days=20) if score >= 80 else None,
                                    active=True))
                quals.append(dict(id=self.ids.next("qualification"), company_id=None, person_id=pid,
                                  kind=str(rng.choice(["electrician", "welder", "work_at_height", "confined_space"])),
                                  number=f"Q-{pid:05d}",
                                  expires_on=(self.end + dt.timedelta(days=int(rng.integers(-60, 700)))).date()))
            if status != "approved":
                continue
            site_areas = [a for a in self.areas if a["site_id"] == site["id"]]
            for _j in range(6):
                a = site_areas[int(rng.integers(0, len(site_areas)))]
                st = self.rand_time(self.start + dt.timedelta(days=30), self.end + dt.timedelta(days=10))
                st = st.replace(hour=8, minute=0, second=0)
                en = st + dt.timedelta(days=int(rng.integers(1, 10)), hours=10)
                jid = self.ids.next("contractor_job")
                jstatus = "completed" if en < self.end else ("active" if st <= self.end else "approved")
                jobs.append(dict(id=jid, company_id=cid, site_id=site["id"], area_id=a["id"],
                                 scope=f"{n.split()[-2]} work in {a['name']}",
                                 work_types=[str(rng.choice(["hot_work", "work_at_height", "electrical",
                                                             "confined_space"]))],
                                 starts_at=st, ends_at=en, status=jstatus, approved_by="hse.manager",
                                 approved_at=st - dt.timedelta(days=2), supervisor_person_id=a.get("owner_person_id")))
                crew = [w for w in workers if w["contractor_company_id"] == cid and w["induction_passed_at"]]
                for w in crew:
                    job_workers.append(dict(job_id=jid, person_id=w["id"]))
                    d = st
                    while d < min(en, self.end):
                        access.append(dict(id=self.ids.next("access_record"), person_id=w["id"], site_id=site["id"],
                                           area_id=a["id"], job_id=jid, entered_at=d,
                                           exited_at=(d + dt.timedelta(hours=9)
                                                      if d + dt.timedelta(hours=9) < self.end else None)))
                        d += dt.timedelta(days=1)
        # Employees currently on shift in their department's areas (for emergency head counts).
        for p in self.people[:: max(1, len(self.people) // 40)]:
            a = next((a for a in self.areas if a["department_id"] == p["department_id"]),
                     next(a for a in self.areas if a["site_id"] == p["site_id"]))
            access.append(dict(id=self.ids.next("access_record"), person_id=p["id"], site_id=p["site_id"],
                               area_id=a["id"],
                               job_id=None, entered_at=self.end - dt.timedelta(hours=2), exited_at=None))
        self.insert(m.ContractorCompany, companies)
        self.insert(m.Person, workers)
        self.insert(m.Qualification, quals)
        self.insert(m.ContractorJob, jobs)
        self.insert(m.ContractorJobWorker, job_workers)
        self.insert(m.AccessRecord, access)

    # -- emergency resources, materials ---------------------------------------------------------
    def emergency(self) -> None:
        rng = self.rng
        res, mats = [], []
        for a in self.areas:
            for kind in RESOURCE_KINDS:
                base = {"extinguisher": 3, "first_aid": 1, "eyewash": 1 if a["is_gas_area"] else 0,
                        "gas_detector": 2 if a["is_gas_area"] else 0,
                        "breathing_apparatus": 1 if a["is_gas_area"] else 0,
                        "spill_kit": 1 if a["kind"] in ("chemical_store", "waste", "cleaning") else 0}[kind]
                # Stock was spread evenly, not by risk: every area got roughly the same.
                qty = base + int(rng.integers(0, 2))
                if qty:
                    res.append(dict(id=self.ids.next("emergency_resource"), site_id=a["site_id"], area_id=a["id"],
                                    kind=kind, quantity=qty, location=f"{a['name']} east wall",
                                    last_checked_on=(self.end - dt.timedelta(days=int(rng.integers(1, 60)))).date()))
            if a["kind"] in ("chemical_store", "cleaning", "soldering", "waste", "welding"):
                catalogue = [("Isopropyl alcohol", "67-63-0", "flammable liquid", "L"),
                             ("Acetone", "67-64-1", "flammable liquid", "L"),
                             ("Soldering flux (rosin)", None, "flammable liquid", "kg"),
                             ("Sodium hydroxide 30 %", "1310-73-2", "corrosive", "L"),
                             ("Acetylene cylinders", "74-86-2", "flammable gas", "m3"),
                             ("Waste cutting oil", None, "environmentally hazardous", "L")]
                for nm, cas, hc, unit in [catalogue[i] for i in rng.choice(len(catalogue), 3, replace=False)]:
                    mx = float(rng.choice([200, 500, 1000]))
                    mats.append(dict(id=self.ids.next("hazardous_material"), site_id=a["site_id"], area_id=a["id"],
                                     name=nm, cas_no=cas, hazard_class=hc,
                                     quantity=float(np.round(mx * rng.uniform(0.2, 0.95), 1)),
                                     unit=unit, max_quantity=mx))
        self.insert(m.EmergencyResource, res)
        self.insert(m.HazardousMaterial, mats)

    # -- cameras, zones, reviewed vision history -----------------------------------------------
    def vision(self) -> None:
        rng = self.rng
        cams, zones, events = [], [], []
        for s in self.sites:
            site_areas = [a for a in self.areas if a["site_id"] == s["id"] and a["kind"] in MACHINE_AREA_KINDS]
            for k, a in enumerate(site_areas[:2]):
                cid = self.ids.next("camera")
                cams.append(dict(id=cid, site_id=s["id"], area_id=a["id"], name=f"{a['code']}-CAM{k + 1}",
                                 source_url="vision/samples/ppe_demo.mp4", detect_fps=2.0, enabled=True,
                                 config={"motion_threshold": 0.004, "min_score": 0.4}))
                zid = self.ids.next("camera_zone")
                zones.append(dict(id=zid, camera_id=cid, area_id=a["id"], name=f"{a['name']} floor",
                                  polygon=[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
                                  required_ppe=["helmet", "vest"] if a["risk_class"] == "A" else ["helmet"],
                                  active_from=None, active_to=None, cooldown_s=60))
                for _ in range(rng.poisson(2.5 * self.sc.days / 30 * (2 if a["risk_class"] == "A" else 1))):
                    st = self.rand_time(self.start, self.end - dt.timedelta(days=1))
                    status = str(rng.choice(["confirmed", "dismissed", "false_positive"], p=[0.65, 0.15, 0.2]))
                    score = float(np.round(rng.uniform(0.45, 0.95), 3))
                    events.append(dict(id=self.ids.next("vision_event"), camera_id=cid, zone_id=zid, site_id=s["id"],
                                       area_id=a["id"], label=str(rng.choice(["no_helmet", "no_vest"], p=[0.7, 0.3])),
                                       score=score, max_score=min(0.99, score + 0.05), boxes=[], track_id=None,
                                       started_at=st, updated_at=st + dt.timedelta(seconds=int(rng.integers(5, 90))),
                                       ended_at=st + dt.timedelta(seconds=int(rng.integers(5, 90))), snapshot_path=None,
                                       review_status=status, reviewed_by=None,
                                       reviewed_at=st + dt.timedelta(minutes=int(rng.integers(2, 240))),
                                       review_note=None))
        self.insert(m.Camera, cams)
        self.insert(m.CameraZone, zones)
        self.insert(m.VisionEvent, events)

    def fix_sequences(self) -> None:
        for t in m.metadata.sorted_tables:
            pk = list(t.primary_key.columns)
            if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement in (True, "auto"):
                col = pk[0].name
                self.conn.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('\"{t.name}\"', '{col}'), "
                    f"COALESCE((SELECT max({col}) FROM \"{t.name}\"), 0) + 1, false)"))
