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
from qhse import contractors as C

from .response_world import T, build_world

H = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def world(db_factory):
    url = db_factory.create(prefix="qhse_contractors")
    w = build_world(url)
    yield w
    w.engine.dispose()
    db_factory.drop(url)


def _png(path, color=(200, 30, 30)):
    from PIL import Image

    Image.new("RGB", (32, 24), color).save(path, format="PNG")
    return path


def _job(w, *, workers, area=None, start=T + 24 * H, hours=10, work_types=("general",), approve=True):
    jid = C.create_job(w.engine, company_id=w.company, area_id=area or w.hall, scope="Replace roof fans",
                       work_types=list(work_types), starts_at=start, ends_at=start + hours * H, worker_ids=workers)
    if approve:
        C.approve_job(w.engine, jid, approver="hse.manager", approver_role="plant_manager", at=T)
    return jid


def test_induction_below_pass_mark_is_refused(world):
    w = world
    res = C.record_induction(w.engine, w.w2, 72.5, at=T, recorded_by="trainer")
    assert not res.passed and res.pass_mark == 80.0
    with Session(w.engine) as s:
        p = s.get(m.Person, w.w2)
        assert p.induction_score == 72.5 and p.induction_passed_at is None
        att = s.get(m.InductionAttempt, res.attempt_id)
        assert att.passed is False and att.pass_mark == 80.0
    # A worker below the pass mark cannot be put on a job ...
    with pytest.raises(C.ContractorError, match="has not passed the induction"):
        _job(w, workers=[w.w2], approve=False)
    # ... and the pass mark is exactly the boundary.
    assert C.record_induction(w.engine, w.w2, 80.0, at=T).passed
    # A site may raise its pass mark.
    with w.engine.begin() as conn:
        conn.execute(sa.text("UPDATE site SET settings = '{\"induction_pass_mark\": 90}' WHERE id = :s"), {"s": w.site})
    try:
        r = C.record_induction(w.engine, w.w2, 85, at=T)
        assert not r.passed and r.pass_mark == 90
    finally:
        with w.engine.begin() as conn:
            conn.execute(sa.text("UPDATE site SET settings = '{}' WHERE id = :s"), {"s": w.site})
    with pytest.raises(C.ContractorError, match="between 0 and 100"):
        C.record_induction(w.engine, w.w2, 120, at=T)
    with pytest.raises(C.ContractorError, match="is an employee"):
        C.record_induction(w.engine, w.e2, 95, at=T)


def test_access_only_inside_the_approved_window(world):
    w = world
    start = T + 48 * H
    jid = _job(w, workers=[w.w1], start=start, approve=False)
    # Requested but not approved: no access even inside the window.
    with pytest.raises(C.AccessRefused, match="no approved job"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + H)
    C.approve_job(w.engine, jid, approver="hse.manager", approver_role="plant_manager", at=T)
    with pytest.raises(C.AccessRefused, match="outside the approved window"):
        C.record_entry(w.engine, w.w1, w.hall, at=start - H)
    with pytest.raises(C.AccessRefused, match="outside the approved window"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + 10 * H)  # the window's end is excluded
    # Another area than the job's: refused.
    with pytest.raises(C.AccessRefused, match="no approved job in Chemical Store"):
        C.record_entry(w.engine, w.w1, w.chem, at=start + H)
    rid = C.record_entry(w.engine, w.w1, w.hall, at=start + H, actor="north gate")
    with Session(w.engine) as s:
        rec = s.get(m.AccessRecord, rid)
        assert rec.job_id == jid and rec.exited_at is None
        assert s.get(m.ContractorJob, jid).status == "active"
        refused = s.scalars(sa.select(m.AuditLog).where(m.AuditLog.action == "access_refused",
                                                        m.AuditLog.entity_id == str(w.w1))).all()
    assert len(refused) >= 3
    with pytest.raises(C.ContractorError, match="already recorded inside"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + 2 * H)
    assert C.record_exit(w.engine, w.w1, area_id=w.hall, at=start + 3 * H) == 1
    with pytest.raises(C.ContractorError, match="not recorded inside"):
        C.record_exit(w.engine, w.w1, at=start + 4 * H)


def test_job_needs_certificates_for_its_work_types(world):
    w = world
    # W1 is a certified welder: hot work is fine; electrical work is not.
    _job(w, workers=[w.w1], work_types=["hot_work"], start=T + 200 * H, approve=False)
    with pytest.raises(C.ContractorError, match="no electrician certificate"):
        _job(w, workers=[w.w1], work_types=["electrical"], approve=False)
    # The welder certificate expires before a job that runs past it.
    with pytest.raises(C.ContractorError, match="welder certificate expires"):
        _job(w, workers=[w.w1], work_types=["hot_work"], start=T + 24 * 199 * H, hours=72, approve=False)
    with pytest.raises(C.ContractorError, match="unknown work type"):
        _job(w, workers=[w.w1], work_types=["juggling"], approve=False)
    with pytest.raises(C.ContractorError, match="end after it starts"):
        C.create_job(w.engine, company_id=w.company, area_id=w.hall, scope="x", work_types=[], starts_at=T,
                     ends_at=T, worker_ids=[w.w1])
    with pytest.raises(C.ContractorError, match="not a contractor"):
        _job(w, workers=[w.e2], approve=False)


def test_company_needs_two_distinct_valid_approvals(world):
    w = world
    with Session(w.engine) as s, s.begin():
        c = m.ContractorCompany(name="New Scaffolding", licence_no="L-9", licence_expires_on=T.date() + dt.timedelta(days=90))
        s.add(c)
        s.flush()
        cid = c.id
    # No safety licence on file yet.
    with pytest.raises(C.ContractorError, match="no safety licence"):
        C.approve_company(w.engine, cid, "safety", approver="pm", approver_role="plant_manager", at=T)
    C.add_qualification(w.engine, company_id=cid, kind="safety_licence", expires_on=T.date() - dt.timedelta(days=1))
    with pytest.raises(C.ContractorError, match="safety licence expired"):
        C.approve_company(w.engine, cid, "safety", approver="pm", approver_role="plant_manager", at=T)
    C.add_qualification(w.engine, company_id=cid, kind="safety_licence", expires_on=T.date() + dt.timedelta(days=300))
    with pytest.raises(C.ContractorError, match="may not give the safety approval"):
        C.approve_company(w.engine, cid, "safety", approver="ds", approver_role="data_scientist", at=T)
    assert C.approve_company(w.engine, cid, "safety", approver="pm", approver_role="admin", at=T) == "pending"
    with pytest.raises(C.ContractorError, match="different people"):
        C.approve_company(w.engine, cid, "legal", approver="pm", approver_role="admin", at=T)
    assert C.approve_company(w.engine, cid, "legal", approver="hq.legal", approver_role="group_manager", at=T) \
        == "approved"
    # A pending company's workers cannot be put on a job.
    with Session(w.engine) as s, s.begin():
        s.add(m.ContractorCompany(name="Unapproved Ltd", status="pending"))
    uid = sa.select(m.ContractorCompany.id).where(m.ContractorCompany.name == "Unapproved Ltd")
    with Session(w.engine) as s:
        unapproved = s.scalar(uid)
    with pytest.raises(C.ContractorError, match="not approved"):
        C.create_job(w.engine, company_id=unapproved, area_id=w.hall, scope="x", work_types=[], starts_at=T,
                     ends_at=T + H, worker_ids=[w.w1])


def test_supervisor_check_needs_photos_and_stop_work_bars_entry(world, tmp_path):
    w = world
    start = T + 72 * H
    jid = _job(w, workers=[w.w1], start=start)
    with pytest.raises(C.ContractorError, match="at least one photo"):
        C.record_check(w.engine, jid, result="ok", photos=[], at=start + H, data_dir=tmp_path)
    txt = tmp_path / "note.txt"
    txt.write_text("not a picture")
    with pytest.raises(C.ContractorError, match="not a JPEG or PNG"):
        C.record_check(w.engine, jid, result="ok", photos=[txt], at=start + H, data_dir=tmp_path)
    photo = _png(tmp_path / "site.png")
    ok = C.record_check(w.engine, jid, result="ok", photos=[photo], note="guard rails fine", at=start + H,
                        data_dir=tmp_path)
    with Session(w.engine) as s:
        chk = s.get(m.SupervisorCheck, ok)
        assert chk.supervisor_person_id == w.e1  # the area owner supervises by default
        stored = tmp_path / chk.photos[0]
        assert stored.is_file() and stored.read_bytes() == photo.read_bytes()
    # The database itself refuses a check without photos.
    with pytest.raises(sa.exc.IntegrityError):
        with w.engine.begin() as conn:
            conn.execute(sa.insert(m.SupervisorCheck.__table__).values(job_id=jid, checked_at=T, result="ok", photos=[]))
    with pytest.raises(C.ContractorError, match="needs a note"):
        C.record_check(w.engine, jid, result="stop_work", photos=[photo], at=start + 2 * H, data_dir=tmp_path)
    stop = C.record_check(w.engine, jid, result="stop_work", photos=[_png(tmp_path / "b.png", (0, 0, 0))],
                          note="harness not clipped on", at=start + 2 * H, data_dir=tmp_path)
    with pytest.raises(C.AccessRefused, match=f"stopped by the supervisor's check #{stop}"):
        C.record_entry(w.engine, w.w1, w.hall, at=start + 3 * H)
    with Session(w.engine) as s:
        n = s.scalars(sa.select(m.Notification).where(m.Notification.ref == f"contractor_job:{jid}:check:{stop}")).all()
    assert [x.recipient for x in n] == ["owner1@plant.example"]
    # A later check that finds the work safe lets the crew back in.
    C.record_check(w.engine, jid, result="ok", photos=[photo], note="fixed", at=start + 4 * H, data_dir=tmp_path)
    C.record_entry(w.engine, w.w1, w.hall, at=start + 5 * H)
    C.record_exit(w.engine, w.w1, at=start + 6 * H)


def test_completion_needs_every_party_and_nobody_inside(world):
    w = world
    start = T + 96 * H
    jid = _job(w, workers=[w.w1], start=start)
    C.record_entry(w.engine, w.w1, w.hall, at=start + H)
    with pytest.raises(C.ContractorError, match="still recorded inside"):
        C.sign_off(w.engine, jid, party="contractor", signed_by="Acme foreman", at=start + 2 * H)
    C.record_exit(w.engine, w.w1, at=start + 2 * H)
    missing, done = C.sign_off(w.engine, jid, party="contractor", signed_by="Acme foreman", at=start + 3 * H)
    assert not done and missing == ["supervisor", "area_owner", "safety"]
    with pytest.raises(C.ContractorError, match="already signed"):
        C.sign_off(w.engine, jid, party="contractor", signed_by="someone else", at=start + 3 * H)
    C.sign_off(w.engine, jid, party="supervisor", signed_by="Owner One", at=start + 3 * H)
    C.sign_off(w.engine, jid, party="area_owner", signed_by="Owner One", at=start + 3 * H)
    missing, done = C.sign_off(w.engine, jid, party="safety", signed_by="hse.manager", at=start + 3 * H)
    assert done and missing == []
    with Session(w.engine) as s:
        assert s.get(m.ContractorJob, jid).status == "completed"
    # A completed job grants no more access.
    with pytest.raises(C.AccessRefused) as refused:
        C.record_entry(w.engine, w.w1, w.hall, at=start + 4 * H)
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
    r = _cli("contractor", "enter", "W1", "--area", "S1/HALL", "--at", before, url=w.url)
    assert r.returncode == 2 and "outside the approved window" in r.stderr, r.stderr
    r = _cli("contractor", "enter", "W1", "--area", "S1/HALL", "--at", (start + H).isoformat(), url=w.url)
    assert r.returncode == 0 and "access record #" in r.stdout, r.stderr
    r = _cli("contractor", "exit", "W1", "--at", (start + 2 * H).isoformat(), url=w.url)
    assert r.returncode == 0, r.stderr
    r = _cli("contractor", "enter", "W1", "--area", "S1/NOPE", url=w.url)
    assert r.returncode == 2 and "no area 'S1/NOPE'" in r.stderr and "S1/HALL" in r.stderr
    r = _cli("contractor", "induction", "W2", "--score", "55", url=w.url)
    assert r.returncode == 2 and "below the pass mark" in r.stderr
