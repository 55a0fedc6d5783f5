"""The hazard / action state machine (qhse.domain.workflow) without a database."""

from __future__ import annotations

import datetime as dt

import pytest

from qhse.domain.workflow import (
    ACTION_TRANSITIONS,
    OPEN_STATUSES,
    TRANSITIONS,
    TransitionError,
    WorkflowError,
    allowed_next,
    check_action_transition,
    check_reason,
    check_rectifiable,
    check_report,
    check_time,
    check_transition,
    join_notes,
)
from qhse.vocab import ActionStatus, HazardStatus

LEGAL = [(a, b) for a in TRANSITIONS for b in TRANSITIONS[a]]


def test_tables_cover_the_vocabularies():
    assert set(TRANSITIONS) == set(HazardStatus)
    assert set(ACTION_TRANSITIONS) == set(ActionStatus)
    assert len(LEGAL) == 13
    assert set(OPEN_STATUSES) == set(HazardStatus) - {"closed", "rejected"}
    assert all(type(k) is str for k in TRANSITIONS)  # stored strings, not enum members


@pytest.mark.parametrize("frm,to", LEGAL)
def test_legal_steps_pass(frm, to):
    check_transition(frm, to)


@pytest.mark.parametrize("frm,to", [("reported", "closed"), ("closed", "assigned"), ("in_progress", "verified"),
                                    ("rejected", "assigned")])
def test_illegal_steps_name_what_is_allowed(frm, to):
    with pytest.raises(TransitionError, match=f"cannot go from '{frm}' to '{to}' \\(allowed next: "):
        check_transition(frm, to, what="hazard #3")


def test_unknown_status():
    with pytest.raises(TransitionError, match="unknown status 'done'"):
        check_transition("reported", "done")
    with pytest.raises(TransitionError, match="unknown status"):
        allowed_next("nope")


def test_action_steps():
    check_action_transition(1, "open", "done")
    with pytest.raises(TransitionError, match=r"action #4: cannot go from 'verified' to 'done' \(allowed next: "
                                              r"nothing \(final\)\)"):
        check_action_transition(4, "verified", "done")


def test_reject_and_reopen_need_a_reason():
    with pytest.raises(TransitionError, match="a rejection needs a reason"):
        check_reason(1, "rejected", None)
    with pytest.raises(TransitionError, match="reopening needs a reason"):
        check_reason(1, "reopened", "")
    check_reason(1, "rejected", "duplicate")
    check_reason(1, "closed", None)


def test_rectified_only_when_every_action_is_done():
    with pytest.raises(TransitionError, match=r"while 1 action\(s\) are not done: Maintenance \(action #2, open\)"):
        check_rectifiable(9, [(1, "done", "Facilities"), (2, "open", "Maintenance")])
    with pytest.raises(TransitionError, match="no completed corrective action"):
        check_rectifiable(9, [(1, "cancelled", "Facilities")])
    check_rectifiable(9, [(1, "done", "Facilities"), (2, "cancelled", "Maintenance")])


def test_report_fields():
    assert check_report(title=" Leak ", category=" Chemical", severity="high", source="worker", likelihood=2,
                        consequence=5) == ("Leak", "chemical")
    bad = dict(title="x", category="fire", severity="normal", source="worker", likelihood=3, consequence=3)
    for k, v, msg in [("title", " ", "needs a title"), ("category", "", "needs a category"),
                      ("severity", "huge", "unknown severity"), ("source", "email", "unknown source"),
                      ("likelihood", 6, "likelihood must be"), ("consequence", True, "consequence must be")]:
        with pytest.raises(WorkflowError, match=msg):
            check_report(**{**bad, k: v})


def test_times_carry_a_zone_and_notes_join():
    with pytest.raises(WorkflowError, match="time zone"):
        check_time(dt.datetime(2026, 1, 1))
    assert check_time(None) is None
    assert join_notes("a", None, "b") == "a; b" and join_notes(None, "") is None
