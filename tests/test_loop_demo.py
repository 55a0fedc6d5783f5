"""The demo data follows the loop's rules and exercises all of it (read-only on the shared seeded database:
whatever a check changes is rolled back)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.queries import hazards as q
from qhse.domain.access import SYSTEM
from qhse.domain.sla import DEFAULT_RECTIFY_HOURS
from qhse.domain.workflow import TRANSITIONS
from qhse.services.sla import escalate_overdue

from .conftest import SEED_END

POINTS = {"low": 5, "normal": 10, "high": 15, "severe": 20}


def test_seeded_histories_are_legal_paths(seeded_engine):
    with seeded_engine.connect() as c:
        rows = c.execute(sa.text("""
            SELECT t.hazard_id, t.from_status, t.to_status, h.status
            FROM hazard_transition t JOIN hazard_report h ON h.id = t.hazard_id
            ORDER BY t.hazard_id, t.at, t.id""")).all()
        statuses = dict(c.execute(sa.text("SELECT status, count(*) FROM hazard_report GROUP BY 1")).all())
    paths: dict[int, list] = {}
    for hid, fr, to, final in rows:
        paths.setdefault(hid, []).append((fr, to, final))
    for hid, p in paths.items():
        assert p[0][:2] == (None, "reported"), hid
        for (fr, to, _), (_prev_fr, prev_to, _) in zip(p[1:], p, strict=False):
            assert fr == prev_to and to in TRANSITIONS[fr], (hid, fr, to)
        assert p[-1][1] == p[-1][2], hid
    # Recent reports are open in every state of the loop.
    assert {"reported", "assigned", "in_progress", "rectified", "closed", "rejected"} <= set(statuses)


def test_seeded_actions_escalations_points_and_repeats_follow_the_rules(seeded_engine):
    with seeded_engine.connect() as c:
        bad_due = c.execute(sa.text("""
            SELECT count(*) FROM corrective_action a JOIN hazard_report h ON h.id = a.hazard_id
            WHERE a.due_at <> a.created_at + make_interval(hours => CASE h.severity
                  WHEN 'low' THEN :low WHEN 'normal' THEN :normal WHEN 'high' THEN :high ELSE :severe END)"""),
            {k: int(v) for k, v in DEFAULT_RECTIFY_HOURS.items()}).scalar()
        bad_points = c.execute(sa.text("""
            SELECT count(*) FROM hazard_report
            WHERE points_awarded <> CASE WHEN status IN ('reported', 'rejected') THEN 0
                  ELSE CASE severity WHEN 'low' THEN 5 WHEN 'normal' THEN 10 WHEN 'high' THEN 15 ELSE 20 END END""")
        ).scalar()
        bad_repeats = c.execute(sa.text("""
            SELECT count(*) FROM hazard_report h JOIN hazard_report p ON p.id = h.predecessor_id
            WHERE NOT (h.is_repeat AND p.area_id = h.area_id AND p.category = h.category AND p.status <> 'rejected'
                       AND p.reported_at <= h.reported_at AND h.reported_at - p.reported_at <= interval '30 days')""")
        ).scalar()
        repeats = c.execute(sa.text("SELECT count(*) FROM hazard_report WHERE is_repeat")).scalar()
        joint = c.execute(sa.text("""
            SELECT count(*) FROM (SELECT hazard_id FROM corrective_action GROUP BY hazard_id
                                  HAVING count(DISTINCT department_id) > 1) x""")).scalar()
        gaps = c.execute(sa.text("""
            SELECT count(*) FROM corrective_action a
            WHERE a.escalation_level <> (SELECT coalesce(max(level), 0) FROM action_escalation e WHERE e.action_id = a.id)
               OR a.escalation_level <> (SELECT count(*) FROM action_escalation e WHERE e.action_id = a.id)""")).scalar()  # noqa: E501 - SQL text kept as written
    assert (bad_due, bad_points, bad_repeats, gaps) == (0, 0, 0, 0)
    assert repeats > 20 and joint > 5
    # The seeded escalations are exactly what the escalation job would have done by the end of history.
    with seeded_engine.connect() as conn:
        tr = conn.begin()
        try:
            with Session(bind=conn) as s:
                res = escalate_overdue(s, SEED_END)
                s.flush()
        finally:
            tr.rollback()
    assert res.checked > 0 and res.escalations == 0


def test_sla_board_after_the_worker_shows_every_state(seeded_engine):
    now = SEED_END + dt.timedelta(hours=6)
    with seeded_engine.connect() as conn:
        tr = conn.begin()
        try:
            with Session(bind=conn) as s:
                res = escalate_overdue(s, now)
                s.flush()
            board = q.sla_board(conn, SYSTEM, now=now)
            counts = q.sla_board_counts(conn, SYSTEM, now=now)
        finally:
            tr.rollback()
    assert res.escalations > 0  # six hours later some actions have climbed a level
    assert all(counts[k] > 0 for k in ("on_time", "due_soon", "overdue", "escalated")), counts
    assert set(board["item"]) == {"action", "response"}
    esc = board[board.state == "escalated"]
    assert set(esc["escalated_to"]) <= {"area manager", "plant manager", "group"} and len(set(esc["escalated_to"])) >= 2
    # Sorted: escalated first (highest level first), then by due time.
    assert list(board["escalation_level"]) == sorted(board["escalation_level"], reverse=True)
    rest = board[board.escalation_level == 0]
    assert list(rest["due_at"]) == sorted(rest["due_at"])


def test_reporter_view_and_leaderboard_on_demo_data(seeded_engine):
    with seeded_engine.connect() as c:
        site_id = c.execute(sa.text("SELECT id FROM site ORDER BY id LIMIT 1")).scalar()
    lb = q.leaderboard(seeded_engine, SYSTEM, site_id)
    assert len(lb) == 10 and list(lb["points"]) == sorted(lb["points"], reverse=True)
    top = int(lb.iloc[0]["person_id"])
    mine = q.reporter_reports(seeded_engine, SYSTEM, top)
    assert len(mine) == lb.iloc[0]["reports"] and int(mine["points_awarded"].sum()) == lb.iloc[0]["points"]
    summary = q.reporter_summary(seeded_engine, SYSTEM, top)
    assert summary["points"] == lb.iloc[0]["points"] and summary["reports"] == len(mine)
