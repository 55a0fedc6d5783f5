"""Dispatch: which team(s) own a hazard, from the editable rules in ``dispatch_rule``.

A rule matches a hazard when each of its filled-in fields matches (site, area, category,
and ``min_severity`` at or below the hazard's severity: :func:`severity_allows`).  The
most specific matching rule wins (:func:`specificity`): an area rule beats a site rule
beats a group-wide one; then a rule naming a category beats one that does not; then a
rule with a severity floor; ties go to the lowest ``priority`` number, then the oldest
rule.  A rule may name several departments: the hazard is then cross-department, and
every department gets its own corrective action (and its own notification), so each
team's part is tracked separately.  With no matching rule, the department that owns the
area is the owner team.  ``qhse/services/dispatch.py`` reads the rules and departments.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from qhse.vocab import HazardSeverity

SEVERITY_RANK = {s.value: i for i, s in enumerate(HazardSeverity)}  # low 0 .. severe 3


class DispatchError(ValueError):
    """No owner team can be found, or a rule is broken; one line."""


@dataclass(frozen=True)
class Dispatch:
    department_ids: tuple[int, ...]
    rule_id: int | None  # None: the area's own department

    @property
    def cross_department(self) -> bool:
        return len(self.department_ids) > 1


class RuleLike(Protocol):
    """What the rules read of a dispatch rule (read-only, so a mapped row or a plain record fits)."""

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int | None: ...
    @property
    def area_id(self) -> int | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def min_severity(self) -> str | None: ...
    @property
    def priority(self) -> int: ...
    @property
    def department_ids(self) -> list[Any] | None: ...


R = TypeVar("R", bound=RuleLike)


def check_severity(severity: str) -> None:
    if severity not in SEVERITY_RANK:
        raise DispatchError(f"unknown severity {severity!r}")


def severity_allows(min_severity: str | None, severity: str) -> bool:
    """A rule's severity floor admits the hazard (a rule without one admits every hazard;
    an unknown floor admits none)."""
    return not min_severity or SEVERITY_RANK.get(min_severity, 99) <= SEVERITY_RANK[severity]


def specificity(r: RuleLike) -> tuple[bool, bool, bool, int, int, int]:
    """Sort key: the larger, the more specific."""
    return (r.area_id is not None, r.site_id is not None, r.category is not None,
            SEVERITY_RANK.get(r.min_severity, -1) if r.min_severity else -1, -r.priority, -r.id)


def rank(rules: Iterable[R], severity: str) -> list[R]:
    """The rules (already matching site, area and category) that admit ``severity``, most specific first."""
    check_severity(severity)
    return sorted((r for r in rules if severity_allows(r.min_severity, severity)), key=specificity, reverse=True)


def rule_departments(rule: RuleLike) -> list[int]:
    """The department ids a rule names (entries that are not ids are ignored)."""
    return [int(x) for x in (rule.department_ids or []) if isinstance(x, int | str) and str(x).isdigit()]


def missing_departments(rule: RuleLike, ids: list[int], found: set[int], site_id: int) -> None:
    missing = [i for i in ids if i not in found]
    if missing:
        raise DispatchError(f"dispatch_rule #{rule.id} names department(s) {missing} that are not at site "
                            f"#{site_id}; fix the rule")


def dispatch_of(rule: RuleLike, ids: list[int]) -> Dispatch:
    return Dispatch(tuple(dict.fromkeys(ids)), rule.id)


def fallback(hazard_id: int, area_department_id: int | None) -> Dispatch:
    """No rule applies: the department that owns the area."""
    if area_department_id is None:
        raise DispatchError(f"no dispatch rule matches hazard #{hazard_id} and its area has no owning department")
    return Dispatch((area_department_id,), None)


def lead_is_area_owner(area_department_id: int | None, area_owner_person_id: int | None, department_id: int) -> bool:
    """The area owner leads the action of the area's own department; other departments' actions
    go to their supervisor (or longest-serving active member)."""
    return area_department_id == department_id and bool(area_owner_person_id)
