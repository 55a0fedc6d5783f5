"""Assessment scorecards (the rules themselves: tests/unit/test_scorecard_rules.py): indicator files
read from disk, versioned indicator definitions, scores computed from seeded data against independent SQL,
manual entries."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from db.queries.scorecards import EvidenceNotVisible, score_evidence, scores
from qhse.domain.scorecards import ScorecardError
from qhse.services import scorecards as sc
from qhse.services.scorecards import compute_month, load_indicators, record_manual_entry
from tests import kpi_fixtures as fx

OCT, SEP, AUG = dt.date(2026, 10, 1), dt.date(2026, 9, 1), dt.date(2026, 8, 1)
TZ = "Asia/Shanghai"
OCT_T0, OCT_T1 = "2026-10-01 00:00+08", "2026-11-01 00:00+08"


def test_indicator_file_read_from_disk(tmp_path):
    assert {d.code for d in load_indicators()} >= {"rectification_on_time", "chemical_storage_compliance"}
    with pytest.raises(ScorecardError, match="missing.yaml: cannot read"):
        load_indicators(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("file_version: 1\nindicators: []\ncolour: red\n")
    with pytest.raises(ScorecardError, match=r"bad.yaml: colour"):
        load_indicators(bad)


def test_versioning_on_sync(fresh_db_url):
    eng = sa.create_engine(fresh_db_url)
    v1 = load_indicators()
    with eng.begin() as c:
        res = sc.sync_indicators(c, v1)
        assert len(res.added) == len(v1)
        assert sc.sync_indicators(c, v1).added == []  # idempotent
    changed = [d.model_copy(update={"qualified_at": 95.0}) if d.code == "rectification_on_time" else d for d in v1]
    with pytest.raises(ScorecardError, match="raise its version"), eng.begin() as c:
        sc.sync_indicators(c, changed)
    bumped = [d.model_copy(update={"qualified_at": 95.0, "version": 2}) if d.code == "rectification_on_time" else d
              for d in v1]
    with eng.begin() as c:
        assert sc.sync_indicators(c, bumped).added == ["rectification_on_time v2"]
        rows = c.execute(sa.text("SELECT version, active, qualified_at FROM assessment_indicator "
                                 "WHERE code = 'rectification_on_time' ORDER BY version")).all()
        assert [(r.version, r.active, r.qualified_at) for r in rows] == [(1, False, 98.0), (2, True, 95.0)]
    with pytest.raises(ScorecardError, match="older than"), eng.begin() as c:
        sc.sync_indicators(c, v1)
    with eng.begin() as c:
        res = sc.sync_indicators(c, [d for d in bumped if d.code != "post_hazard_reporting"])
        assert res.deactivated == ["post_hazard_reporting"]
    eng.dispose()


# ------------------------------------------------------------------- computed from seeded data
@pytest.fixture(scope="module")
def computed(seeded_engine):
    res_sep = compute_month(seeded_engine, SEP, tz=TZ)
    res_oct = compute_month(seeded_engine, OCT, tz=TZ)
    return seeded_engine, res_sep, res_oct


def _score_map(eng, code, month=OCT):
    return {(r["unit_type"], r["unit_id"]): r for r in scores(eng, month=month) if r["code"] == code}


def _evidence_ids(eng, score_id):
    with eng.connect() as c:
        ev = c.execute(sa.text("SELECT evidence FROM assessment_score WHERE id = :i"), {"i": score_id}).scalar()
    return ev


def test_rectification_on_time_matches_hand_calculation(computed):
    eng = computed[0]
    with eng.connect() as c:
        items = c.execute(sa.text(f"""
            SELECT department_id, id, (completed_at IS NOT NULL AND completed_at <= due_at) AS ok
            FROM corrective_action WHERE status <> 'cancelled'
              AND due_at >= '{OCT_T0}' AND due_at < '{OCT_T1}'""")).all()
        depts = [r.id for r in c.execute(sa.text("SELECT id FROM department"))]
    got = _score_map(eng, "rectification_on_time")
    assert len(got) == len(depts)
    checked = 0
    for d in depts:
        mine = [r for r in items if r.department_id == d]
        s = got[("department", d)]
        if not mine:
            assert s["value"] is None and s["rating"] == "not_available"
            continue
        ok = sum(1 for r in mine if r.ok)
        expected = 100.0 * ok / len(mine)
        assert s["value"] == pytest.approx(expected)
        assert (s["numerator"], s["denominator"]) == (ok, len(mine))
        want = "excellent" if expected >= 100 else "qualified" if expected >= 98 else "needs_improvement"
        assert s["rating"] == want
        ev = _evidence_ids(eng, s["id"])
        assert {e["id"] for e in ev} == {r.id for r in mine}
        assert {e["id"] for e in ev if e["ok"]} == {r.id for r in mine if r.ok}
        checked += 1
    assert checked >= 5


def test_chemical_storage_compliance_matches_hand_calculation(computed):
    eng = computed[0]
    with eng.connect() as c:
        rows = c.execute(sa.text(f"""
            SELECT a.department_id, count(*) AS n, count(*) FILTER (WHERE i.status = 'done' AND i.findings = 0) AS ok
            FROM inspection i JOIN area a ON a.id = i.area_id
            WHERE a.kind = 'chemical_store' AND i.due_at >= '{OCT_T0}' AND i.due_at < '{OCT_T1}'
            GROUP BY 1""")).all()
        storage = {r.id for r in c.execute(sa.text("SELECT id FROM department WHERE stage = 'storage'"))}
    got = _score_map(eng, "chemical_storage_compliance")
    assert {k[1] for k in got} == storage  # only storage departments are assessed
    assert rows
    for r in rows:
        s = got[("department", r.department_id)]
        expected = 100.0 * r.ok / r.n
        assert s["value"] == pytest.approx(expected)
        assert s["rating"] == ("excellent" if expected >= 100 else "qualified" if expected >= 95
                               else "needs_improvement")


def test_trir_scores_per_plant_and_group_match_sql(computed):
    eng = computed[0]
    with eng.connect() as c:
        per_site = {r.site_id: r for r in c.execute(sa.text(f"""
            SELECT s.id AS site_id,
                   (SELECT count(*) FROM incident i WHERE i.site_id = s.id AND i.recordable
                      AND i.occurred_at >= '{OCT_T0}' AND i.occurred_at < '{OCT_T1}') AS cases,
                   (SELECT sum(h.hours + h.contractor_hours)::float FROM hours_worked h
                      WHERE h.site_id = s.id AND h.month = '2026-10-01') AS hours
            FROM site s"""))}
    got = _score_map(eng, "trir")
    for sid, r in per_site.items():
        assert got[("site", sid)]["value"] == pytest.approx(r.cases * 200_000 / r.hours)
    group = got[("enterprise", 1)]
    cases, hours = sum(r.cases for r in per_site.values()), sum(r.hours for r in per_site.values())
    assert group["value"] == pytest.approx(cases * 200_000 / hours)
    assert group["site_id"] is None


def test_needs_plan_follows_two_consecutive_ratings(computed):
    eng, _, res_oct = computed
    with eng.connect() as c:
        rows = c.execute(sa.text("""
            SELECT s.needs_plan, s.rating, p.rating AS prev
            FROM assessment_score s JOIN assessment_indicator i ON i.id = s.indicator_id
            LEFT JOIN assessment_score p ON p.indicator_id = s.indicator_id AND p.unit_type = s.unit_type
                 AND p.unit_id = s.unit_id AND p.period = '2026-09-01'
            WHERE s.period = '2026-10-01'""")).all()
    assert rows
    flagged = [r for r in rows if r.needs_plan]
    assert flagged and len(flagged) == res_oct.flagged
    for r in rows:
        assert r.needs_plan == (r.rating == "needs_improvement" and r.prev == "needs_improvement")


def test_recompute_is_idempotent_and_manual_indicators_await_entry(computed):
    eng = computed[0]
    with eng.connect() as c:
        before = c.execute(sa.text("SELECT count(*) FROM assessment_score WHERE period = '2026-10-01'")).scalar()
    res = compute_month(eng, OCT, tz=TZ)
    with eng.connect() as c:
        after = c.execute(sa.text("SELECT count(*) FROM assessment_score WHERE period = '2026-10-01'")).scalar()
    assert before == after == res.scores + res.awaiting_manual + res.manual_entered
    waste = _score_map(eng, "hazardous_waste_disposal_compliance")
    assert waste and all(s["rating"] == "not_available" and s["manual"] for s in waste.values())
    typhoon = _score_map(eng, "typhoon_preparedness")
    with eng.connect() as c:
        south = {r.id for r in c.execute(sa.text(
            "SELECT id FROM site WHERE (settings->'local_indicators'->>'typhoon_preparedness')::boolean"))}
    assert {k[1] for k in typhoon} == south and all(k[0] == "site" for k in typhoon)


def test_scope_and_evidence_rows(computed):
    eng = computed[0]
    mine = scores(eng, month=OCT, scope=[1])
    assert mine and all(r["site_id"] == 1 for r in mine)
    assert not [r for r in mine if r["unit_type"] == "enterprise"]
    other = next(r for r in scores(eng, month=OCT) if r["site_id"] == 2 and r["evidence_rows"] > 0)
    with pytest.raises(EvidenceNotVisible):
        score_evidence(eng, [1], other["id"])
    ev = score_evidence(eng, [2], other["id"])
    n = sum(len(v) for v in ev["tables"].values())
    assert n == other["evidence_rows"]
    table, rows = next(iter(ev["tables"].items()))
    assert all(r["site_id"] == 2 for r in rows)
    if "passes" in rows[0]:
        assert sum(1 for r in rows if r["passes"]) == ev["numerator"]


# ---------------------------------------------------------------------- manual entries
def test_manual_entries_and_the_two_consecutive_rule(fresh_db_url):
    eng = sa.create_engine(fresh_db_url)
    with eng.begin() as c:
        fx.build_org(c, local={"A": "typhoon_preparedness"})
    unit = "department:B/D"  # site B's department is at the waste-disposal stage
    kw = dict(code="hazardous_waste_disposal_compliance", unit=unit, entered_by="Zhao Min")
    r_aug = record_manual_entry(eng, month=AUG, value=100, evidence="Manifests 2026-08-001..009 checked", **kw)
    assert r_aug["rating"] == "excellent" and not r_aug["needs_plan"]
    r_sep = record_manual_entry(eng, month=SEP, value=90, evidence="Manifest 2026-09-004 without receiver stamp", **kw)
    assert r_sep["rating"] == "needs_improvement" and not r_sep["needs_plan"]
    r_oct = record_manual_entry(eng, month=OCT, value=95, evidence="Two transfers with the wrong carrier licence", **kw)
    assert r_oct["rating"] == "needs_improvement" and r_oct["needs_plan"]
    # Correcting September (the manifest was found) lifts October's flag.
    record_manual_entry(eng, month=SEP, value=100, evidence="Missing stamp found on the carrier's copy", **kw)
    with eng.connect() as c:
        flag = c.execute(sa.text("SELECT needs_plan FROM assessment_score WHERE id = :i"), {"i": r_oct["id"]}).scalar()
        audit = c.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'manual_score_entry'")).scalar()
        stored = c.execute(sa.text("SELECT manual_entry_by, manual_evidence FROM assessment_score WHERE id = :i"),
                           {"i": r_oct["id"]}).one()
    assert flag is False
    assert audit == 4
    assert stored.manual_entry_by == "Zhao Min" and "carrier licence" in stored.manual_evidence
    # Computing the month keeps the manual entry.
    compute_month(eng, OCT, tz=TZ)
    s = [r for r in scores(eng, month=OCT) if r["code"] == "hazardous_waste_disposal_compliance"]
    assert len(s) == 1 and s[0]["value"] == 95 and s[0]["manual_entry_by"] == "Zhao Min"
    # Local indicator only where the plant lists it.
    record_manual_entry(eng, code="typhoon_preparedness", unit="site:A", month=OCT, value=100, entered_by="Li",
                        evidence="Typhoon checklist TP-10 complete")
    with pytest.raises(ScorecardError, match="does not apply"):
        record_manual_entry(eng, code="typhoon_preparedness", unit="site:B", month=OCT, value=100, entered_by="Li",
                            evidence="Typhoon checklist TP-10 complete")
    eng.dispose()


@pytest.fixture(scope="module")
def org_engine(db_factory):
    eng = sa.create_engine(db_factory.create(prefix="qhse_sc_org"))
    with eng.begin() as c:
        fx.build_org(c)
    yield eng
    eng.dispose()


@pytest.mark.parametrize("kw, message", [
    (dict(evidence=""), "evidence"),
    (dict(entered_by=" "), "who made the check"),
    (dict(value=120), "outside 0..100"),
    (dict(value="lots"), "not a number"),
    (dict(code="rectification_on_time"), "computed from the data"),
    (dict(code="no_such_thing"), "no active indicator"),
    (dict(unit="department:B/ZZ"), "not found"),
    (dict(unit="department:A/D"), "does not apply"),
    (dict(unit="galaxy:1"), "write it as"),
    (dict(month=dt.date(2099, 1, 1)), "future"),
])
def test_bad_manual_entries_are_refused(org_engine, kw, message):
    eng = org_engine
    base = dict(code="hazardous_waste_disposal_compliance", unit="department:B/D", month=OCT, value=100,
                entered_by="Zhao Min", evidence="Manifests checked")
    with pytest.raises(ScorecardError, match=message):
        record_manual_entry(eng, **(base | kw))
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT count(*) FROM assessment_score")).scalar() == 0
        assert c.execute(sa.text("SELECT count(*) FROM audit_log")).scalar() == 0
