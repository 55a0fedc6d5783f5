"""Contractor control on real PostgreSQL: approvals, induction, job windows, checks with photos, sign-off."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import models as m
from qhse.domain.contractors import AccessRefused, ContractorError
from qhse.services import contractors as C

from .actor_fixtures import act
from .response_world import T, build_world

H = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def world(db_factory):
    url = db_factory.create(prefix="qhse_contractors")
    w = build_world(url)
    w.pm = act(w.engine, "hse.manager", "plant_manager")
    w.gate = act(w.engine, "gate.guard", "security")
    yield w
    w.engine.dispose()
    db_factory.drop(url)


def other_site(w) -> int:
    """A second site (S2) of the same region, for users limited to another plant."""
    with w.engine.begin() as conn:
        return conn.execute(sa.text(
            "INSERT INTO site (region_id, code, name, industry, timezone, settings) "
            "SELECT region_id, 'S2', 'Other Plant', industry, timezone, '{}' FROM site WHERE id = :s "
            "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name RETURNING id"), {"s": w.site}).scalar_one()


def _png(path, color=(200, 30, 30)):
    from PIL import Image

    Image.new("RGB", (32, 24), color).save(path, format="PNG")
    return path


def _job(w, *, workers, area=None, start=T + 24 * H, hours=10, work_types=("general",), approve=True):
    jid = C.create_job(w.engine, actor=w.pm, company_id=w.company, area_id=area or w.hall, scope="Replace roof fans",
                       work_types=list(work_types), starts_at=start, ends_at=start + hours * H, worker_ids=workers)
    if approve:
        C.approve_job(w.engine, jid, actor=w.pm, at=T)
    return jid


def test_induction_below_pass_mark_is_refused(world):
    w = world
    res = C.record_induction(w.engine, w.w2, 72.5, at=T, actor=w.pm)
    assert not res.passed and res.pass_mark == 80.0
    with Session(w.engine) as s:
        p = s.get(m.Person, w.w2)
        assert p.induction_score == 72.5 and p.induction_passed_at is None
        att = s.get(m.InductionAttempt, res.attempt_id)
        assert att.passed is False and att.pass_mark == 80.0
    # A worker below the pass mark cannot be put on a job ...
    with pytest.raises(ContractorError, match="has not passed the induction"):
        _job(w, workers=[w.w2], approve=False)
    # ... and the pass mark is exactly the boundary.
    assert C.record_induction(w.engine, w.w2, 80.0, at=T, actor=w.pm).passed
    # A site may raise its pass mark.
    with w.engine.begin() as conn:
        conn.execute(sa.text("UPDATE site SET settings = '{\"induction_pass_mark\": 90}' WHERE id = :s"), {"s": w.site})
    try:
        r = C.record_induction(w.engine, w.w2, 85, at=T, actor=w.pm)
        assert not r.passed and r.pass_mark == 90
    finally:
        with w.engine.begin() as conn:
            conn.execute(sa.text("UPDATE site SET settings = '{}' WHERE id = :s"), {"s": w.site})
    with pytest.raises(ContractorError, match="between 0 and 100"):
        C.record_induction(w.engine, w.w2, 120, at=T, actor=w.pm)
    with pytest.raises(ContractorError, match="is an employee"):
        C.record_induction(w.engine, w.e2, 95, at=T, actor=w.pm)


def test_access_only_inside_the_approved_window(world):
    w = world
    start = T + 48 * H
    jid = _job(w, workers=[w.w1], start=start, approve=False)
    # Requested but not approved: no access even inside the window.
    with pytest.raises(AccessRefused, match="no approved job"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + H, actor=w.gate)
    C.approve_job(w.engine, jid, actor=w.pm, at=T)
    with pytest.raises(AccessRefused, match="outside the approved window"):
        C.record_entry(w.engine, w.w1, w.hall, at=start - H, actor=w.gate)
    with pytest.raises(AccessRefused, match="outside the approved window"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + 10 * H, actor=w.gate)  # the window's end is excluded
    # Another area than the job's: refused.
    with pytest.raises(AccessRefused, match="no approved job in Chemical Store"):
        C.record_entry(w.engine, w.w1, w.chem, at=start + H, actor=w.gate)
    rid = C.record_entry(w.engine, w.w1, w.hall, at=start + H, actor=w.gate)
    with Session(w.engine) as s:
        rec = s.get(m.AccessRecord, rid)
        assert rec.job_id == jid and rec.exited_at is None
        assert s.get(m.ContractorJob, jid).status == "active"
        refused = s.scalars(sa.select(m.AuditLog).where(m.AuditLog.action == "access_refused",
                                                        m.AuditLog.entity_id == str(w.w1))).all()
    assert len(refused) >= 3
    with pytest.raises(ContractorError, match="already recorded inside"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + 2 * H, actor=w.gate)
    assert C.record_exit(w.engine, w.w1, area_id=w.hall, at=start + 3 * H, actor=w.gate) == 1
    with pytest.raises(ContractorError, match="not recorded inside"):
        C.record_exit(w.engine, w.w1, at=start + 4 * H, actor=w.gate)


def test_job_needs_certificates_for_its_work_types(world):
    w = world
    # W1 is a certified welder: hot work is fine; electrical work is not.
    _job(w, workers=[w.w1], work_types=["hot_work"], start=T + 200 * H, approve=False)
    with pytest.raises(ContractorError, match="no electrician certificate"):
        _job(w, workers=[w.w1], work_types=["electrical"], approve=False)
    # The welder certificate expires before a job that runs past it.
    with pytest.raises(ContractorError, match="welder certificate expires"):
        _job(w, workers=[w.w1], work_types=["hot_work"], start=T + 24 * 199 * H, hours=72, approve=False)
    with pytest.raises(ContractorError, match="unknown work type"):
        _job(w, workers=[w.w1], work_types=["juggling"], approve=False)
    with pytest.raises(ContractorError, match="end after it starts"):
        C.create_job(w.engine, actor=w.pm, company_id=w.company, area_id=w.hall, scope="x", work_types=[], starts_at=T,
                     ends_at=T, worker_ids=[w.w1])
    with pytest.raises(ContractorError, match="not a contractor"):
        _job(w, workers=[w.e2], approve=False)


def test_company_needs_two_distinct_valid_approvals(world):
    w = world
    with Session(w.engine) as s, s.begin():
        c = m.ContractorCompany(name="New Scaffolding", licence_no="L-9",
                                licence_expires_on=T.date() + dt.timedelta(days=90))
        s.add(c)
        s.flush()
        cid = c.id
    # No safety licence on file yet.
    with pytest.raises(ContractorError, match="no safety licence"):
        C.approve_company(w.engine, cid, "safety", actor=w.pm, at=T)
    C.add_qualification(w.engine, actor=w.pm, company_id=cid, kind="safety_licence",
                        expires_on=T.date() - dt.timedelta(days=1))
    with pytest.raises(ContractorError, match="safety licence expired"):
        C.approve_company(w.engine, cid, "safety", actor=w.pm, at=T)
    C.add_qualification(w.engine, actor=w.pm, company_id=cid, kind="safety_licence",
                        expires_on=T.date() + dt.timedelta(days=300))
    with pytest.raises(ContractorError, match="may not give the safety approval"):
        C.approve_company(w.engine, cid, "safety", actor=act(w.engine, "ds", "data_scientist"), at=T)
    pm_admin = act(w.engine, "pm", "admin")
    assert C.approve_company(w.engine, cid, "safety", actor=pm_admin, at=T) == "pending"
    with pytest.raises(ContractorError, match="different people"):
        C.approve_company(w.engine, cid, "legal", actor=pm_admin, at=T)
    assert C.approve_company(w.engine, cid, "legal", actor=act(w.engine, "hq.legal", "group_manager"), at=T) \
        == "approved"
    # A pending company's workers cannot be put on a job.
    with Session(w.engine) as s, s.begin():
        s.add(m.ContractorCompany(name="Unapproved Ltd", status="pending"))
    uid = sa.select(m.ContractorCompany.id).where(m.ContractorCompany.name == "Unapproved Ltd")
    with Session(w.engine) as s:
        unapproved = s.scalar(uid)
    with pytest.raises(ContractorError, match="not approved"):
        C.create_job(w.engine, actor=w.pm, company_id=unapproved, area_id=w.hall, scope="x", work_types=[], starts_at=T,
                     ends_at=T + H, worker_ids=[w.w1])


def test_supervisor_check_needs_photos_and_stop_work_bars_entry(world, tmp_path):
    w = world
    start = T + 72 * H
    jid = _job(w, workers=[w.w1], start=start)
    with pytest.raises(ContractorError, match="at least one photo"):
        C.record_check(w.engine, jid, actor=w.pm, result="ok", photos=[], at=start + H, data_dir=tmp_path)
    txt = tmp_path / "note.txt"
    txt.write_text("not a picture")
    with pytest.raises(ContractorError, match="not a JPEG or PNG"):
        C.record_check(w.engine, jid, actor=w.pm, result="ok", photos=[txt], at=start + H, data_dir=tmp_path)
    photo = _png(tmp_path / "site.png")
    ok = C.record_check(w.engine, jid, actor=w.pm, result="ok", photos=[photo], note="guard rails fine", at=start + H,
                        data_dir=tmp_path)
    with Session(w.engine) as s:
        chk = s.get(m.SupervisorCheck, ok)
        assert chk.supervisor_person_id == w.e1  # the area owner supervises by default
        stored = tmp_path / chk.photos[0]
        assert stored.is_file() and stored.read_bytes() == photo.read_bytes()
    # The database itself refuses a check without photos.
    with pytest.raises(sa.exc.IntegrityError):
        with w.engine.begin() as conn:
            conn.execute(sa.insert(m.SupervisorCheck.__table__).values(job_id=jid, checked_at=T, result="ok",
                                                                        photos=[]))
    with pytest.raises(ContractorError, match="needs a note"):
        C.record_check(w.engine, jid, actor=w.pm, result="stop_work", photos=[photo], at=start + 2 * H,
                       data_dir=tmp_path)
    stop = C.record_check(w.engine, jid, actor=w.pm, result="stop_work", photos=[_png(tmp_path / "b.png", (0, 0, 0))],
                          note="harness not clipped on", at=start + 2 * H, data_dir=tmp_path)
    with pytest.raises(AccessRefused, match=f"stopped by the supervisor's check #{stop}"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + 3 * H, actor=w.gate)
    with Session(w.engine) as s:
        n = s.scalars(sa.select(m.Notification).where(m.Notification.ref == f"contractor_job:{jid}:check:{stop}")).all()
    assert [x.recipient for x in n] == ["owner1@plant.example"]
    # A later check that finds the work safe lets the crew back in.
    C.record_check(w.engine, jid, actor=w.pm, result="ok", photos=[photo], note="fixed", at=start + 4 * H,
                   data_dir=tmp_path)
    C.record_entry(w.engine, w.w1, w.hall, at=start + 5 * H, actor=w.gate)
    C.record_exit(w.engine, w.w1, at=start + 6 * H, actor=w.gate)


def test_completion_needs_every_party_and_nobody_inside(world):
    w = world
    start = T + 96 * H
    jid = _job(w, workers=[w.w1], start=start)
    C.record_entry(w.engine, w.w1, w.hall, at=start + H, actor=w.gate)
    with pytest.raises(ContractorError, match="still recorded inside"):
        C.sign_off(w.engine, jid, party="contractor", actor=w.pm, note="Acme foreman", at=start + 2 * H)
    C.record_exit(w.engine, w.w1, at=start + 2 * H, actor=w.gate)
    missing, done = C.sign_off(w.engine, jid, party="contractor", actor=w.pm, note="Acme foreman", at=start + 3 * H)
    assert not done and missing == ["supervisor", "area_owner", "safety"]
    with pytest.raises(ContractorError, match="already signed"):
        C.sign_off(w.engine, jid, party="contractor", actor=w.pm, at=start + 3 * H)
    owner = act(w.engine, "owner.one", "plant_manager", site_ids=(w.site,))
    C.sign_off(w.engine, jid, party="supervisor", actor=owner, at=start + 3 * H)
    C.sign_off(w.engine, jid, party="area_owner", actor=owner, at=start + 3 * H)
    missing, done = C.sign_off(w.engine, jid, party="safety", actor=w.pm, at=start + 3 * H)
    assert done and missing == []
    with Session(w.engine) as s:
        assert s.get(m.ContractorJob, jid).status == "completed"
    # A completed job grants no more access.
    with pytest.raises(AccessRefused) as refused:
        C.record_entry(w.engine, w.w1, w.hall, at=start + 4 * H, actor=w.gate)
    assert f"#{jid} " not in str(refused.value)


def _cli(*args, url: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QHSE_")}
    env["QHSE_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "qhse.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_refuses_entry_outside_the_window(world):
    w = world
    start = T + 120 * H
    _job(w, workers=[w.w1], start=start)
    before = (start - 2 * H).isoformat()
    r = _cli("contractor", "enter", "W1", "--area", "S1/HALL", "--at", before, "--as", "gate.guard", url=w.url)
    assert r.returncode == 2 and "outside the approved window" in r.stderr, r.stderr
    r = _cli("contractor", "enter", "W1", "--area", "S1/HALL", "--at", (start + H).isoformat(), "--as", "gate.guard",
             url=w.url)
    assert r.returncode == 0 and "access record #" in r.stdout, r.stderr
    r = _cli("contractor", "exit", "W1", "--at", (start + 2 * H).isoformat(), "--as", "gate.guard", url=w.url)
    assert r.returncode == 0, r.stderr
    r = _cli("contractor", "enter", "W1", "--area", "S1/NOPE", "--as", "gate.guard", url=w.url)
    assert r.returncode == 2 and "no area 'S1/NOPE'" in r.stderr and "S1/HALL" in r.stderr
    r = _cli("contractor", "induction", "W2", "--score", "55", "--as", "hse.manager", url=w.url)
    assert r.returncode == 2 and "below the pass mark" in r.stderr


def _audit(engine, action: str, entity_id) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT user_id, username FROM audit_log WHERE action = :a AND entity_id = :e ORDER BY id"),
            {"a": action, "e": str(entity_id)})]


def test_every_step_names_a_platform_user_and_is_audited_with_its_id(world, tmp_path):
    w = world
    start = T + 300 * H
    # Free text is refused before anything is written.
    with Session(w.engine) as s:
        jobs_before = s.scalar(sa.select(sa.func.count()).select_from(m.ContractorJob))
    for call in (
        lambda a: C.create_job(w.engine, actor=a, company_id=w.company, area_id=w.hall, scope="x",
                               work_types=["general"], starts_at=start, ends_at=start + H, worker_ids=[w.w1]),
        lambda a: C.record_induction(w.engine, w.w1, 95, at=T, actor=a),
        lambda a: C.record_entry(w.engine, w.e2, w.hall, at=start, actor=a),
        lambda a: C.suspend_company(w.engine, w.company, actor=a, reason="forged"),
    ):
        with pytest.raises(ContractorError, match="not free text"):
            call("Mallory (forged name)")
    with Session(w.engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.ContractorJob)) == jobs_before
        assert s.get(m.ContractorCompany, w.company).status == "approved"
    # Roles without the permission, and users of another site, are refused.
    worker = act(w.engine, "ct.worker", "worker")
    with pytest.raises(ContractorError, match="may not manage contractors"):
        C.suspend_company(w.engine, w.company, actor=worker, reason="no")
    with pytest.raises(ContractorError, match="may not record access"):
        C.record_entry(w.engine, w.e2, w.hall, at=start, actor=worker)
    elsewhere = act(w.engine, "ct.elsewhere", "plant_manager", site_ids=(other_site(w),))
    with pytest.raises(ContractorError, match="outside"):
        C.create_job(w.engine, actor=elsewhere, company_id=w.company, area_id=w.hall, scope="x",
                     work_types=["general"], starts_at=start, ends_at=start + H, worker_ids=[w.w1])
    with pytest.raises(ContractorError, match="outside"):
        C.record_entry(w.engine, w.e2, w.hall, at=start, actor=act(w.engine, "ct.guard2", "security",
                                                                     site_ids=(other_site(w),)))
    # Each write: audit_log row with the user id, in the write's transaction.
    jid = _job(w, workers=[w.w1], start=start)
    assert _audit(w.engine, "create_contractor_job", jid) == [(w.pm.user_id, "hse.manager")]
    assert _audit(w.engine, "approve_contractor_job", jid) == [(w.pm.user_id, "hse.manager")]
    rid = C.record_entry(w.engine, w.w1, w.hall, at=start + H, actor=w.gate)
    assert _audit(w.engine, "access_entry", rid) == [(w.gate.user_id, "gate.guard")]
    chk = C.record_check(w.engine, jid, actor=w.pm, result="ok", photos=[_png(tmp_path / "p.png")], at=start + H,
                         data_dir=tmp_path)
    assert _audit(w.engine, "contractor_site_check", jid) == [(w.pm.user_id, "hse.manager")]
    assert chk
    C.record_exit(w.engine, w.w1, at=start + 2 * H, actor=w.gate)
    assert _audit(w.engine, "access_exit", rid) == [(w.gate.user_id, "gate.guard")]
    C.sign_off(w.engine, jid, party="safety", actor=w.pm, at=start + 3 * H)
    assert _audit(w.engine, "contractor_sign_off", jid) == [(w.pm.user_id, "hse.manager")]
    res = C.record_induction(w.engine, w.w2, 90, at=T, actor=w.pm)
    with Session(w.engine) as s:
        assert s.get(m.InductionAttempt, res.attempt_id).recorded_by == "hse.manager"
        assert s.scalar(sa.select(m.JobSignoff.signed_by).where(m.JobSignoff.job_id == jid)) == "hse.manager"
    assert _audit(w.engine, "record_induction", w.w2)[-1] == (w.pm.user_id, "hse.manager")
    qid = C.add_qualification(w.engine, actor=w.pm, person_id=w.w2, kind="electrician", expires_on=None)
    assert _audit(w.engine, "add_qualification", qid) == [(w.pm.user_id, "hse.manager")]
    # A gate terminal acts as a labelled system actor.
    C.record_entry(w.engine, w.e2, w.hall, at=start + 4 * H, actor="system:gate")
    with w.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT user_id, username FROM audit_log WHERE action = 'access_entry' "
                                   "ORDER BY id DESC LIMIT 1")).one()
    assert tuple(row) == (None, "system:gate")
    C.record_exit(w.engine, w.e2, at=start + 5 * H, actor="system:gate")


def test_cli_contractor_writes_run_as_a_checked_user(world):
    w = world
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + 24 * H  # the CLI approves as of now
    act(w.engine, "ct.cli.worker", "worker")
    legal = act(w.engine, "ct.legal", "group_manager")
    with Session(w.engine) as s, s.begin():
        c = m.ContractorCompany(name="CLI Cranes", licence_no="L-CLI", licence_expires_on=None)
        s.add(c)
        s.flush()
        cid = c.id
    C.add_qualification(w.engine, actor=w.pm, company_id=cid, kind="safety_licence", expires_on=None)
    r = _cli("contractor", "approve", str(cid), "--capacity", "safety", "--by", "Mallory (forged name)", url=w.url)
    assert r.returncode == 2 and "--by" in r.stderr, r.stderr
    r = _cli("contractor", "approve", str(cid), "--capacity", "safety", "--as", "mallory", url=w.url)
    assert r.returncode == 2 and "unknown user 'mallory'" in r.stderr, r.stderr
    r = _cli("contractor", "approve", str(cid), "--capacity", "safety", "--as", "ct.legal", url=w.url)
    assert r.returncode == 2 and "may not give the safety approval" in r.stderr, r.stderr
    r = _cli("contractor", "approve", str(cid), "--capacity", "safety", "--as", "hse.manager", url=w.url)
    assert r.returncode == 0, r.stderr
    r = _cli("contractor", "approve", str(cid), "--capacity", "legal", "--as", "ct.legal", url=w.url)
    assert r.returncode == 0 and "status approved" in r.stdout, r.stderr
    assert _audit(w.engine, "approve_contractor_safety", cid) == [(w.pm.user_id, "hse.manager")]
    assert _audit(w.engine, "approve_contractor_legal", cid) == [(legal.user_id, "ct.legal")]
    r = _cli("contractor", "enter", "W1", "--area", "S1/HALL", "--as", "ct.cli.worker", url=w.url)
    assert r.returncode == 2 and "may not record access" in r.stderr, r.stderr
    jid = _job(w, workers=[w.w1], start=start, approve=False)
    r = _cli("contractor", "job-approve", str(jid), "--as", "ct.cli.worker", url=w.url)
    assert r.returncode == 2 and "may not manage contractors" in r.stderr, r.stderr
    r = _cli("contractor", "job-approve", str(jid), "--as", "hse.manager", url=w.url)
    assert r.returncode == 0, r.stderr
    assert _audit(w.engine, "approve_contractor_job", jid) == [(w.pm.user_id, "hse.manager")]
    r = _cli("contractor", "suspend", str(cid), "--as", "hse.manager", "--reason", "licence under review", url=w.url)
    assert r.returncode == 0, r.stderr
    assert _audit(w.engine, "suspend_contractor", cid) == [(w.pm.user_id, "hse.manager")]
