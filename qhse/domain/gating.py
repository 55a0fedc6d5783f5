"""Training gating rules: who may not enter an area because their training is not valid.

A gating rule applies to an area when it is active and its filters match (site, area, gas
areas only, area kinds).  It names the training courses entry requires (all of them, or
any one); a course counts as valid when the person passed it on or before the day and it
has not expired.  Trigger ``open_alarm``: the rule bites only while an alarm is open in
the area; ``always``: whenever the training is not valid.  A bite is a :class:`Violation`.

Rules and areas are anything with the attributes of ``db.models.GatingRule`` and
``db.models.Area``; the service reads them, the training state and the open alarm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qhse.vocab import GatingMatch, GatingTrigger

# (person, course) -> True (valid on the day), the last expiry date, or None (never passed).
TrainingState = Mapping[tuple[int, str], "dt.date | None | bool"]


@dataclass
class Violation:
    rule_id: int
    rule_code: str
    person_id: int
    person_name: str
    area_id: int
    site_id: int
    alarm_id: int | None
    missing: list[dict[str, Any]]  # [{"course": "H2S", "expired_on": "2026-01-31" | None}]
    message: str


def rule_applies(rule: Any, area: Any) -> bool:
    """Does this rule cover this area (active, and its site / area / gas / kind filters match)?"""
    if not rule.active:
        return False
    if rule.site_id is not None and rule.site_id != area.site_id:
        return False
    if rule.area_id is not None and rule.area_id != area.id:
        return False
    if rule.gas_areas_only and not area.is_gas_area:
        return False
    if rule.area_kinds and area.kind not in rule.area_kinds:
        return False
    return True


def needs_alarm_check(rules: Iterable[Any]) -> bool:
    """Is whether an alarm is open in the area relevant to these rules?"""
    return any(r.trigger == GatingTrigger.OPEN_ALARM for r in rules)


def live_rules(rules: Sequence[Any], alarm_id: int | None) -> list[Any]:
    """The rules that bite now: ``always`` rules, and ``open_alarm`` rules while an alarm is open."""
    return [r for r in rules if r.trigger == GatingTrigger.ALWAYS or alarm_id is not None]


def describe_missing(missing: list[dict[str, Any]]) -> str:
    parts = []
    for x in missing:
        parts.append(f"{x['course']} expired on {x['expired_on']}" if x["expired_on"]
                     else f"{x['course']} never passed")
    return ", ".join(parts)


def _expiry(s: dt.date | None | bool) -> str | None:
    return s.isoformat() if isinstance(s, dt.date) else None


def find_violations(rules: Sequence[Any], person_ids: Sequence[int], area: Any, state: TrainingState,
               names: Mapping[int, str], alarm_id: int | None) -> list[Violation]:
    """The violations of the live ``rules`` by these people in ``area`` given their training ``state``."""
    out = []
    for r in rules:
        for pid in person_ids:
            missing = [{"course": c, "expired_on": _expiry(state.get((pid, c)))}
                       for c in r.required_courses if state.get((pid, c)) is not True]
            if not missing:
                continue
            if r.match == GatingMatch.ANY and len(missing) < len(r.required_courses):
                continue
            why = describe_missing(missing)
            on_alarm = r.trigger == GatingTrigger.OPEN_ALARM
            cond = f" while alarm #{alarm_id} is open" if on_alarm else ""
            out.append(Violation(
                rule_id=r.id, rule_code=r.code, person_id=pid, person_name=names.get(pid, f"#{pid}"), area_id=area.id,
                site_id=area.site_id, alarm_id=alarm_id if on_alarm else None, missing=missing,
                message=f"no entry to {area.name} for {names.get(pid, pid)}{cond}: {r.name} ({why})"))
    return out


def resolution(rule: Any | None, alarm_open: bool) -> str:
    """Why a warning that no longer holds is resolved: the rule went, the alarm cleared, or training is valid."""
    if rule is None:
        return "rule_inactive"
    if rule.trigger == GatingTrigger.OPEN_ALARM and not alarm_open:
        return "alarm_cleared"
    return "training_valid"
