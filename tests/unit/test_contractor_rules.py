"""Contractor rules without a database: approvals and who may give them, induction, workers' certificates,
job requests, the access window, site checks and sign-off."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

import pytest

from qhse.domain import contractors as R
from qhse.domain.access import Scope
from qhse.domain.contractors import ContractorError

T = dt.datetime(2026, 10, 15, 8, 0, tzinfo=dt.UTC)
DAY = T.date()


def _scope(role: str) -> Scope:
    return Scope(user_id=1, username=f"u_{role}", role=role, site_ids=None)


def _company(**kw):
    base = dict(name="Weld Co", status="pending", licence_expires_on=None, approved_safety_by=None,
                approved_safety_at=None, approved_legal_by=None, approved_legal_at=None)
    return NS(**(base | kw))


def test_who_may_give_each_approval_comes_from_the_access_policy():
    assert R.approval_capacities(_scope("admin")) == ("safety", "legal")
    assert R.approval_capacities(_scope("plant_manager")) == ("safety",)
    assert R.approval_capacities(_scope("plant_head")) == ("legal",)
    assert R.approval_capacities(_scope("group_manager")) == ("legal",)
    assert R.approval_capacities(_scope("worker")) == ()
    assert R.may_approve_jobs(_scope("plant_manager")) and not R.may_approve_jobs(_scope("plant_head"))
    with pytest.raises(ContractorError, match=r"role 'security' may not give the safety approval "
                                              r"\(allowed: admin, plant_manager\)"):
        R.check_approver(_scope("security"), "safety")
    with pytest.raises(ContractorError, match="capacity must be one of"):
        R.check_approver(_scope("admin"), "finance")
    with pytest.raises(ContractorError, match=r"may not approve contractor jobs \(allowed: admin, plant_manager\)"):
        R.check_job_approver(_scope("inspector"))


def test_two_approvals_by_different_people():
    c = _company()
    assert R.approve(c, "safety", "ann", T, []) == "pending"
    with pytest.raises(ContractorError, match="different people"):
        R.approve(c, "legal", "ann", T, [])
    assert R.approve(c, "legal", "bob", T, []) == "approved"
    with pytest.raises(ContractorError, match="suspended"):
        R.approve(_company(status="suspended"), "safety", "ann", T, [])
    with pytest.raises(ContractorError, match="cannot approve: company licence expired"):
        R.approve(_company(), "safety", "ann", T, ["company licence expired on 2026-01-01"])


def test_company_problems():
    lic_ok, lic_old = NS(expires_on=None), NS(expires_on=dt.date(2026, 1, 31))
    assert R.company_problems(_company(status="approved"), [lic_ok], DAY) == []
    assert R.company_problems(_company(), [lic_ok], DAY) == ["company 'Weld Co' is pending, not approved"]
    assert R.company_problems(_company(), [], DAY, need_approval=False) == ["company has no safety licence on file"]
    assert R.company_problems(_company(status="approved", licence_expires_on=dt.date(2026, 2, 1)), [lic_old], DAY) \
        == ["company licence expired on 2026-02-01", "company safety licence expired on 2026-01-31"]


def test_pass_mark_and_induction_score():
    assert R.pass_mark(None) == 80.0 and R.pass_mark(NS(code="S1", settings={"induction_pass_mark": 90})) == 90.0
    with pytest.raises(ContractorError, match="between 0 and 100"):
        R.pass_mark(NS(code="S1", settings={"induction_pass_mark": 120}))
    with pytest.raises(ContractorError, match="must be a number"):
        R.pass_mark(NS(code="S1", settings={"induction_pass_mark": "high"}))
    assert R.induction_score("85") == 85.0
    with pytest.raises(ContractorError, match="between 0 and 100"):
        R.induction_score(101)


def _worker(**kw):
    base = dict(name="Wu", employee_no="C-1", kind="contractor", contractor_company_id=5, active=True,
                induction_passed_at=T, induction_score=85.0)
    return NS(**(base | kw))


def test_worker_certificates_must_cover_the_whole_window():
    welder = NS(kind="welder", expires_on=dt.date(2026, 10, 20))
    assert R.worker_problems(_worker(), 5, ["hot_work"], DAY, 80.0, [welder], until=dt.date(2026, 10, 18)) == []
    out = R.worker_problems(_worker(), 5, ["hot_work"], DAY, 80.0, [welder], until=dt.date(2026, 10, 25))
    assert out == ["Wu (C-1)'s welder certificate expires on 2026-10-20, before the job ends (2026-10-25)"]
    out = R.worker_problems(_worker(induction_score=70.0), 6, ["electrical", "general"], DAY, 80.0, [])
    assert out == ["Wu (C-1) does not work for this company",
                   "Wu (C-1) has not passed the induction (score 70 %, pass mark 80 %)",
                   "Wu (C-1) holds no electrician certificate (needed for electrical)"]


def test_job_request_and_access_window():
    with pytest.raises(ContractorError, match="end after it starts"):
        R.check_job_request("weld", ["hot_work"], T, T, [1])
    with pytest.raises(ContractorError, match="unknown work type"):
        R.check_job_request("weld", ["juggling"], T, T + dt.timedelta(hours=1), [1])
    with pytest.raises(ContractorError, match="at least one worker"):
        R.check_job_request("weld", ["hot_work"], T, T + dt.timedelta(hours=1), [])
    person, area = NS(name="Wu"), NS(name="Boiler")
    assert R.job_window_problems(person, area, [], T) == (None, ["Wu has no approved job in Boiler"])
    job = NS(id=3, starts_at=T + dt.timedelta(hours=1), ends_at=T + dt.timedelta(hours=9))
    assert R.job_window_problems(person, area, [job], T) == (
        None, ["2026-10-15 08:00 UTC is outside the approved window (#3 2026-10-15 09:00-2026-10-15 17:00 UTC)"])
    assert R.job_window_problems(person, area, [job], T + dt.timedelta(hours=2)) == (job, [])
    with pytest.raises(ContractorError, match="time zone"):
        R.aware(dt.datetime(2026, 1, 1))


def test_site_checks_photos_and_sign_off():
    with pytest.raises(ContractorError, match="at least one photo"):
        R.check_site_check("ok", [], None)
    with pytest.raises(ContractorError, match="needs a note"):
        R.check_site_check("stop_work", ["a.jpg"], " ")
    R.check_site_check("ok", ["a.jpg"], None)
    assert R.photo_extension(b"\xff\xd8\xff\xe0") == ".jpg" and R.photo_extension(b"GIF89a") is None
    assert R.parties_missing(["contractor", "safety"]) == ["supervisor", "area_owner"]
    assert R.parties_missing(R.SIGNOFF_PARTIES) == []
    with pytest.raises(ContractorError, match="party must be one of"):
        R.check_party("mayor")
