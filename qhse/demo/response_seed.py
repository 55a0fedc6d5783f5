"""Reference data for emergency plans and training gating, and demo data for the response tables.

``DEFAULT_PLAN_TEMPLATES`` and ``DEFAULT_GATING_RULES`` are installed by the migration that
creates the tables (so every database has them) and re-installed by :func:`seed_response`
after a reset; both inserts skip rows that already exist.  Nothing here is random: the
demo data depends only on what the main generator wrote.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from db import models as m
from qhse.vocab import SignoffParty, values

_NOTIFY = ["area_owner", "plant_manager", "security", "contractor_supervisor"]

DEFAULT_PLAN_TEMPLATES: list[dict] = [
    dict(kind="fire", title="Fire response",
         steps=[
             "Raise the alarm: press the nearest manual call point and announce the fire area on the PA system.",
             "Call the fire brigade (119): site address, area, what is burning, whether anyone is trapped.",
             "Stop hot work; isolate power and fuel gas to the area if it can be done safely.",
             "Fight only an incipient fire, with the right extinguisher and a clear escape route behind you.",
             "Evacuate along the evacuation route; the area owner sweeps the area and closes doors behind.",
             "Roll call at the assembly point against the list of people present; report anyone missing.",
             "Meet the fire brigade at the gate with the hazardous-materials list and the site plan.",
             "Keep everyone out until the fire brigade declares the area safe.",
         ],
         resource_kinds=["extinguisher", "breathing_apparatus", "first_aid"],
         notify_roles=_NOTIFY,
         external_contacts=[{"name": "Fire brigade", "contact": "119"},
                            {"name": "Emergency medical service", "contact": "120"}]),
    dict(kind="gas_leak", title="Toxic or flammable gas release",
         steps=[
             "Sound the gas alarm and evacuate at once, upwind of the release.",
             "Remove ignition sources: stop hot work, do not operate electrical switches in the area.",
             "Isolate the source (close upstream valves) only from a safe position and with breathing apparatus.",
             "Measure at the area boundary with portable detectors; cordon off where readings exceed the alarm limit.",
             "Entry only with self-contained breathing apparatus, in pairs, with a standby person outside.",
             "Roll call at the assembly point; anyone exposed goes to first aid and medical observation.",
             "Ventilate and re-measure; re-entry only with O2 19.5-23.5 %vol and gases below their alarm limits.",
         ],
         resource_kinds=["gas_detector", "breathing_apparatus", "first_aid", "eyewash"],
         notify_roles=_NOTIFY,
         external_contacts=[{"name": "Fire brigade (hazmat)", "contact": "119"},
                            {"name": "Emergency medical service", "contact": "120"},
                            {"name": "Environmental protection hotline", "contact": "12369"}]),
    dict(kind="chemical_spill", title="Chemical spill",
         steps=[
             "Warn people nearby and keep them away; evacuate the area if vapours are present.",
             "Identify the material from the hazardous-materials list and read its safety data sheet.",
             "Put on the PPE the safety data sheet requires (chemical gloves, goggles, respirator).",
             "Stop the source and contain the spill with the spill kit; cover or block drains.",
             "Absorb or neutralise; collect the waste in labelled containers for hazardous-waste disposal.",
             "Anyone splashed: eyewash or safety shower for at least 15 minutes, then first aid.",
             "Report to the environmental officer if anything reached drains or soil.",
         ],
         resource_kinds=["spill_kit", "eyewash", "first_aid", "breathing_apparatus"],
         notify_roles=_NOTIFY,
         external_contacts=[{"name": "Emergency medical service", "contact": "120"},
                            {"name": "Environmental protection hotline", "contact": "12369"}]),
    dict(kind="injury", title="Injury",
         steps=[
             "Make the scene safe: emergency stop and lock out machines before approaching the casualty.",
             "Call the site first-aider; for a serious injury call the emergency medical service (120).",
             "Give first aid within your training; do not move a casualty with a suspected spinal injury.",
             "Send someone to meet the ambulance at the gate and guide it to the area.",
             "Preserve the scene for the investigation; photograph it before anything is moved.",
             "Record the casualty, the injury and the witnesses; report the incident within the shift.",
         ],
         resource_kinds=["first_aid", "eyewash"],
         notify_roles=_NOTIFY,
         external_contacts=[{"name": "Emergency medical service", "contact": "120"}]),
]

DEFAULT_GATING_RULES: list[dict] = [
    dict(code="GAS_AREA_H2S_CONFINED", name="Gas area under alarm: valid H2S and confined-space training",
         gas_areas_only=True, area_kinds=[], required_courses=["H2S", "CONFINED"], match="all", trigger="open_alarm",
         description="While an alarm is open in a gas area, only people with valid hydrogen-sulphide awareness "
                     "and confined-space entry training may enter."),
    dict(code="CHEM_STORE_HANDLING", name="Chemical store: valid hazardous-chemical handling training",
         gas_areas_only=False, area_kinds=["chemical_store"], required_courses=["CHEM"], match="all", trigger="always",
         description="Chemical stores are entered only by people with valid hazardous-chemical handling training."),
    dict(code="HOT_WORK_AREAS", name="Welding and soldering under alarm: valid hot-work training",
         gas_areas_only=False, area_kinds=["welding", "soldering"], required_courses=["HOTWORK"], match="all",
         trigger="open_alarm",
         description="While an alarm is open in a welding or soldering area, entry needs valid hot-work training."),
]

# Register of regulations and internal standards (site None: the whole group).
REGULATIONS: list[dict] = [
    dict(site=None, code="PRC-WSL-2021-28", title="Work Safety Law of the PRC (2021 revision)", kind="law",
         authority="NPC Standing Committee", clause="Art. 28",
         requirement="Employees receive safety education and training before work; training is recorded.",
         ledger_kind="training", effective_on=dt.date(2021, 9, 1)),
    dict(site=None, code="GB 30871-2022",
         title="Safety specification for special work in hazardous chemical enterprises",
         kind="national_standard", authority="SAMR / SAC", clause="Hot work, confined space, work at height",
         requirement="Special work only by trained and certified people under a work permit.",
         ledger_kind="training", effective_on=dt.date(2022, 10, 1)),
    dict(site=None, code="GB 16297-1996", title="Integrated emission standard of air pollutants",
         kind="national_standard", authority="MEE", clause="Table 2",
         requirement="Emission concentrations within the listed limits; monitoring kept.",
         ledger_kind="waste_gas", effective_on=dt.date(1997, 1, 1)),
    dict(site=None, code="GB 37822-2019", title="Standard for fugitive emission of volatile organic compounds",
         kind="national_standard", authority="MEE", clause="Ch. 10 monitoring",
         requirement="VOC fugitive emissions monitored; exceedances handled and recorded.",
         ledger_kind="waste_gas", effective_on=dt.date(2019, 7, 1)),
    dict(site=None, code="GB 14554-1993", title="Emission standards for odor pollutants", kind="national_standard",
         authority="MEE", clause="H2S limits", requirement="Hydrogen sulphide within the boundary limits.",
         ledger_kind="waste_gas", effective_on=dt.date(1994, 1, 15)),
    dict(site=None, code="HX-HSE-STD-012", title="Safety inspection rounds by area risk class",
         kind="internal_standard", authority="Group HSE", clause="4.2",
         requirement="Class A areas inspected daily, class B every two days, class C twice a week; findings recorded.",
         ledger_kind="inspection", effective_on=dt.date(2024, 1, 1)),
    dict(site=None, code="HX-HSE-STD-020", title="Training matrix and refresher intervals", kind="internal_standard",
         authority="Group HSE", clause="3.1",
         requirement="Refresher training before expiry; expired training blocks entry to gated areas.",
         ledger_kind="training", effective_on=dt.date(2024, 1, 1)),
    dict(site="SZ-ELEC", code="DB44/2367-2022", title="Guangdong emission standard for VOCs from stationary sources",
         kind="local_standard", authority="Guangdong EEB", clause="Table 1",
         requirement="VOC emission and fugitive limits for electronics manufacturing.", ledger_kind="waste_gas",
         effective_on=dt.date(2022, 6, 1)),
    dict(site="SZ-PREC", code="DB44/2367-2022", title="Guangdong emission standard for VOCs from stationary sources",
         kind="local_standard", authority="Guangdong EEB", clause="Table 1",
         requirement="VOC emission and fugitive limits for surface cleaning.", ledger_kind="waste_gas",
         effective_on=dt.date(2022, 6, 1)),
    dict(site="SU-MACH", code="DB32/4041-2021", title="Jiangsu integrated emission standard of air pollutants",
         kind="local_standard", authority="Jiangsu EEB", clause="Table 1",
         requirement="Emission limits for machining and welding fumes.", ledger_kind="waste_gas",
         effective_on=dt.date(2021, 7, 1)),
]


def ensure_reference_data(conn) -> None:
    """Install the default plan templates and gating rules where missing."""
    if DEFAULT_PLAN_TEMPLATES:
        stmt = pg_insert(m.PlanTemplate.__table__).values(
            [dict(t, site_id=None, version=1, lessons=[], active=True, created_by="system")
             for t in DEFAULT_PLAN_TEMPLATES])
        conn.execute(stmt.on_conflict_do_nothing())
    if DEFAULT_GATING_RULES:
        stmt = pg_insert(m.GatingRule.__table__).values(
            [dict(r, site_id=None, area_id=None, active=True) for r in DEFAULT_GATING_RULES])
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["code"]))


def seed_response(conn, *, end: dt.datetime) -> None:
    """Demo rows for the response tables, derived from the data already written."""
    ensure_reference_data(conn)
    sites = dict(conn.execute(sa.text("SELECT code, id FROM site")).all())
    regs = [dict({k: v for k, v in r.items() if k != "site"}, site_id=sites.get(r["site"]) if r["site"] else None,
                 review_due_on=dt.date(end.year + 1, 1, 31), active=True)
            for r in REGULATIONS if r["site"] is None or r["site"] in sites]
    if regs:
        conn.execute(pg_insert(m.Regulation.__table__).values(regs).on_conflict_do_nothing())
    # Induction attempts behind the scores already on the contractor workers.
    conn.execute(sa.text("""
        INSERT INTO induction_attempt (person_id, taken_at, score, pass_mark, passed, recorded_by)
        SELECT id, coalesce(induction_passed_at, created.at), induction_score, 80, induction_score >= 80, 'hse.trainer'
        FROM person, LATERAL (SELECT CAST(:start AS timestamptz) AS at) created
        WHERE kind = 'contractor' AND induction_score IS NOT NULL
        ORDER BY id"""), {"start": end - dt.timedelta(days=340)})
    # Completed jobs were signed off by every party on the day they ended.
    for i, party in enumerate(values(SignoffParty)):
        conn.execute(sa.text("""
            INSERT INTO job_signoff (job_id, party, signed_by, signed_at, note)
            SELECT j.id, CAST(:party AS text), CASE CAST(:party AS text) WHEN 'contractor' THEN c.name
                                              WHEN 'safety' THEN 'hse.manager'
                                              WHEN 'supervisor' THEN coalesce(sup.name, 'supervisor')
                                              ELSE coalesce(owner.name, 'area owner') END,
                   j.ends_at + make_interval(mins => CAST(:offset AS int)), NULL
            FROM contractor_job j JOIN contractor_company c ON c.id = j.company_id
            JOIN area a ON a.id = j.area_id
            LEFT JOIN person sup ON sup.id = j.supervisor_person_id
            LEFT JOIN person owner ON owner.id = a.owner_person_id
            WHERE j.status = 'completed'
            ORDER BY j.id"""), {"party": party, "offset": 15 * (i + 1)})
