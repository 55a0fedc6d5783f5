"""The hazard / corrective-action state machine: which status may follow which, and the
conditions of each step.  Pure; ``qhse/services/workflow.py`` locks the rows, applies the
step, writes the transition and audit rows and queues the notifications.

Hazard report::

    reported ──> assigned ──> in_progress ──> rectified ──> verified ──> closed
       │            │                            │             │            │
       └──> rejected <┘                          └──> reopened <┴────────────┘
                 │                                      │  ^
                 └──────────────> reopened ──> assigned ┘  (or rejected)

* ``assigned``: the owner team(s) come from the dispatch rules (or are named
  explicitly); each department gets one corrective action with a due time from the SLA
  policy.  The first assignment is the response and earns the reporter their points.
* ``in_progress``: a team has started; ``rectified``: every department's action is
  done (refused while any is still open: :func:`check_rectifiable`); ``verified``: a
  checker confirms the fix (actions become verified); ``closed``.
* ``rejected`` needs a reason, cancels open actions and withdraws the points;
  ``reopened`` needs a reason and starts a new response clock (:func:`check_reason`);
  the next assignment creates a new round of actions.

Corrective action: ``open -> in_progress -> done -> verified``, or ``cancelled`` while
still open or in progress (:data:`ACTION_TRANSITIONS`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from qhse.vocab import ActionStatus, HazardSeverity, HazardSource, HazardStatus, values

_H, _A = HazardStatus, ActionStatus

# Plain strings (the stored values), so messages and table keys read as the database does.
TRANSITIONS: dict[str, tuple[str, ...]] = {k.value: tuple(v.value for v in vs) for k, vs in {
    _H.REPORTED: (_H.ASSIGNED, _H.REJECTED),
    _H.ASSIGNED: (_H.IN_PROGRESS, _H.REJECTED),
    _H.IN_PROGRESS: (_H.RECTIFIED,),
    _H.RECTIFIED: (_H.VERIFIED, _H.REOPENED),
    _H.VERIFIED: (_H.CLOSED, _H.REOPENED),
    _H.CLOSED: (_H.REOPENED,),
    _H.REJECTED: (_H.REOPENED,),
    _H.REOPENED: (_H.ASSIGNED, _H.REJECTED),
}.items()}
STATUSES = values(HazardStatus)
OPEN_STATUSES = tuple(s for s in STATUSES if s not in (_H.CLOSED, _H.REJECTED))
ACTION_TRANSITIONS: dict[str, tuple[str, ...]] = {k.value: tuple(v.value for v in vs) for k, vs in {
    _A.OPEN: (_A.IN_PROGRESS, _A.DONE, _A.CANCELLED),
    _A.IN_PROGRESS: (_A.DONE, _A.CANCELLED),
    _A.DONE: (_A.VERIFIED,),
    _A.VERIFIED: (),
    _A.CANCELLED: (),
}.items()}
ACTIVE_ACTION = (_A.OPEN.value, _A.IN_PROGRESS.value)
SOURCES = values(HazardSource)
SEVERITIES = values(HazardSeverity)
# Hazard categories offered when people report (the pick list of the hazards page).
CATEGORIES = ("chemical", "electrical", "fire", "machine_guarding", "lockout", "ppe", "housekeeping", "ventilation",
              "environmental", "ergonomics", "esd", "other")
NEEDS_REASON = {_H.REJECTED.value: "a rejection", _H.REOPENED.value: "reopening"}


class WorkflowError(ValueError):
    """A request the rules refuse, in one line a user can act on."""


class TransitionError(WorkflowError):
    pass


class NotFound(WorkflowError):
    pass


def allowed_next(status: str) -> tuple[str, ...]:
    if status not in TRANSITIONS:
        raise TransitionError(f"unknown status {status!r} (statuses: {', '.join(STATUSES)})")
    return TRANSITIONS[status]


def check_transition(from_status: str, to_status: str, *, what: str = "hazard") -> None:
    if to_status not in TRANSITIONS:
        raise TransitionError(f"unknown status {to_status!r} (statuses: {', '.join(STATUSES)})")
    nxt = allowed_next(from_status)
    if to_status not in nxt:
        allowed = ", ".join(nxt) or "nothing (final)"
        raise TransitionError(f"{what}: cannot go from {from_status!r} to {to_status!r} (allowed next: {allowed})")


def check_action_transition(action_id: int, from_status: str, to_status: str) -> None:
    nxt = ACTION_TRANSITIONS[from_status]
    if to_status not in nxt:
        allowed = ", ".join(nxt) or "nothing (final)"
        raise TransitionError(f"action #{action_id}: cannot go from {from_status!r} to {to_status!r} "
                              f"(allowed next: {allowed})")


def check_reason(hazard_id: int, to_status: str, reason: str | None) -> None:
    """Rejecting and reopening need a reason."""
    if to_status in NEEDS_REASON and not reason:
        raise TransitionError(f"hazard #{hazard_id}: {NEEDS_REASON[to_status]} needs a reason")


def check_rectifiable(hazard_id: int, actions: Iterable[tuple[int, str, str]]) -> None:
    """A hazard is rectified only when no action is still open and at least one is done.

    ``actions``: (action id, status, department name) of every action of the hazard."""
    acts = list(actions)
    still = [a for a in acts if a[1] in ACTIVE_ACTION]
    if still:
        parts = ", ".join(f"{dept} (action #{aid}, {st})" for aid, st, dept in still)
        raise TransitionError(f"hazard #{hazard_id}: cannot be rectified while {len(still)} action(s) are not done: "
                              f"{parts}")
    if not any(a[1] == _A.DONE for a in acts):
        raise TransitionError(f"hazard #{hazard_id}: no completed corrective action to rectify it")


def check_report(*, title: str, category: str, severity: str, source: str, likelihood: object,
                 consequence: object) -> tuple[str, str]:
    """The fields of a new hazard report checked; returns (title, category) cleaned."""
    title = (title or "").strip()
    category = (category or "").strip().lower()
    if not title:
        raise WorkflowError("a hazard report needs a title")
    if not category:
        raise WorkflowError("a hazard report needs a category")
    if severity not in SEVERITIES:
        raise WorkflowError(f"unknown severity {severity!r} (use one of {', '.join(SEVERITIES)})")
    if source not in SOURCES:
        raise WorkflowError(f"unknown source {source!r} (use one of {', '.join(SOURCES)})")
    for name, v in (("likelihood", likelihood), ("consequence", consequence)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
            raise WorkflowError(f"{name} must be a whole number from 1 to 5")
    return title, category


def check_time(at: dt.datetime | None) -> dt.datetime | None:
    if at is not None and at.tzinfo is None:
        raise WorkflowError("times must carry a time zone")
    return at


def join_notes(*parts: str | None) -> str | None:
    s = "; ".join(p for p in parts if p)
    return s or None
