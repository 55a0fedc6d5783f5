"""Who may see what: roles and their permissions, the site scope, and the masking of
sensitive person fields.  Pure; the query layer applies a :class:`Scope`
(``db.queries.scope.site_filter``) and ``qhse/services/access.py`` builds one from a
user row.

The policy has three parts, all decided here and nowhere else:

* **permissions**: each role holds a set of permissions; a dashboard page or an action
  requires one (``can(role, perm)``, ``require(scope, perm, site_id)``); pages declare
  theirs in ``dashboard/pages.py``;
* **site scope**: a user sees every site (``all_sites``) or only the sites listed for
  them; ``scope_for(...)`` turns that into a :class:`Scope` which every query function
  receives and applies, so scope holds in the query layer whatever a page asks for;
* **masking**: person columns marked ``info={'sensitive': True}`` (health data) are
  returned only to roles holding ``READ_SENSITIVE``; everyone else gets ``MASK``
  (``mask_record``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from qhse.vocab import Role, values

__all__ = ["ROLES", "Scope", "SYSTEM", "AccessDenied", "can", "require", "scope_for", "permissions_of",
           "ROLE_PERMISSIONS", "GROUP_ROLES", "MASK", "mask_record"]

ROLES = values(Role)
MASK = "••••"  # what a masked sensitive value reads as


# -- scope ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """Who is asking and what they may see.  Frozen and hashable (usable as a cache key)."""

    user_id: int | None
    username: str
    role: str
    site_ids: tuple[int, ...] | None  # None: every site
    sensitive: bool = False  # may read sensitive person fields (health)

    @property
    def all_sites(self) -> bool:
        return self.site_ids is None

    def allows_site(self, site_id: int | None) -> bool:
        return self.site_ids is None or (site_id is not None and site_id in self.site_ids)

    def sites(self, requested: Iterable[int] | None = None) -> tuple[int, ...] | None:
        """Site ids to query: the requested ones that are allowed (None: no restriction at all)."""
        if requested is None:
            return self.site_ids
        req = tuple(sorted({int(s) for s in requested}))
        if self.site_ids is None:
            return req
        allowed = set(self.site_ids)
        return tuple(s for s in req if s in allowed)

    def describe(self) -> str:
        where = "all sites" if self.site_ids is None else f"sites {list(self.site_ids)}"
        return f"{self.username} ({self.role}, {where})"


# Internal jobs and the CLI act on every site.
SYSTEM = Scope(user_id=None, username="system", role=Role.ADMIN.value, site_ids=None, sensitive=False)


# A caller's site scope as the read queries take it: a Scope, site ids, or None (every site).
SiteScope: TypeAlias = "Scope | Iterable[int] | None"


class AccessDenied(Exception):
    """The caller's role lacks a permission, or the object lies outside their sites."""


# -- permissions ------------------------------------------------------------------------
VIEW_OVERVIEW = "view_overview"
VIEW_RISK = "view_risk"
VIEW_ALARMS = "view_alarms"
ACK_ALARMS = "ack_alarms"
VIEW_EQUIPMENT = "view_equipment"
VIEW_VISION = "view_vision"
REVIEW_VISION = "review_vision"
REPORT_HAZARD = "report_hazard"
VIEW_ACTIONS = "view_actions"
VIEW_KPIS = "view_kpis"  # scorecards, site comparison, resources
VIEW_MODELS = "view_models"
MANAGE_MODELS = "manage_models"  # retrain, promote
VIEW_PEOPLE = "view_people"
READ_SENSITIVE = "read_sensitive"  # health fields of people
VIEW_CONTRACTORS = "view_contractors"
MANAGE_EMERGENCY = "manage_emergency"
VIEW_LEDGERS = "view_ledgers"
MANAGE_USERS = "manage_users"
VIEW_AUDIT = "view_audit"
ENTER_SCORES = "enter_scores"  # record manual-check results of assessment indicators
MANAGE_CONTRACTORS = "manage_contractors"  # licences, induction, jobs, site checks, sign-off, suspension
RECORD_ACCESS = "record_access"  # record contractor and employee entries and exits at the gate
APPROVE_CONTRACTOR_SAFETY = "approve_contractor_safety"  # the safety approval of a contractor company
APPROVE_CONTRACTOR_LEGAL = "approve_contractor_legal"  # the legal approval of a contractor company
APPROVE_CONTRACTOR_JOBS = "approve_contractor_jobs"  # approve a requested contractor job (plant safety function)
MANAGE_PLANT = "manage_plant"  # onboarding: org, assets, sensors, sensor kinds, history imports

PERMISSIONS = (
    VIEW_OVERVIEW, VIEW_RISK, VIEW_ALARMS, ACK_ALARMS, VIEW_EQUIPMENT, VIEW_VISION, REVIEW_VISION,
    REPORT_HAZARD, VIEW_ACTIONS, VIEW_KPIS, VIEW_MODELS, MANAGE_MODELS, VIEW_PEOPLE, READ_SENSITIVE,
    VIEW_CONTRACTORS, MANAGE_EMERGENCY, VIEW_LEDGERS, MANAGE_USERS, VIEW_AUDIT, ENTER_SCORES,
    MANAGE_CONTRACTORS, RECORD_ACCESS, APPROVE_CONTRACTOR_SAFETY, APPROVE_CONTRACTOR_LEGAL, APPROVE_CONTRACTOR_JOBS,
    MANAGE_PLANT,
)

_MANAGER_VIEW = {VIEW_OVERVIEW, VIEW_RISK, VIEW_ALARMS, VIEW_EQUIPMENT, VIEW_VISION, VIEW_ACTIONS, VIEW_KPIS,
                 REPORT_HAZARD, VIEW_CONTRACTORS, VIEW_LEDGERS}

_R = Role
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    # Runs the platform: users, audit, every page; not health data (not an occupational-health role).
    _R.ADMIN.value: frozenset(set(PERMISSIONS) - {READ_SENSITIVE}),
    # Group HQ: every site, read-only comparison and drill-down.
    _R.GROUP_MANAGER.value: frozenset(_MANAGER_VIEW | {VIEW_MODELS, VIEW_PEOPLE, APPROVE_CONTRACTOR_LEGAL}),
    # Plant / HSE manager: acts on everything at their plant, including people's fitness for duty.
    _R.PLANT_MANAGER.value: frozenset(_MANAGER_VIEW | {ACK_ALARMS, REVIEW_VISION, VIEW_MODELS, VIEW_PEOPLE,
                                                         READ_SENSITIVE, MANAGE_EMERGENCY, ENTER_SCORES,
                                                         MANAGE_CONTRACTORS, RECORD_ACCESS, APPROVE_CONTRACTOR_SAFETY,
                                                         APPROVE_CONTRACTOR_JOBS}),
    # Plant head: compares their plants, reads KPIs and the SLA board.
    _R.PLANT_HEAD.value: frozenset(_MANAGER_VIEW | {VIEW_PEOPLE, MANAGE_EMERGENCY, APPROVE_CONTRACTOR_LEGAL}),
    # Data scientist: models and the equipment they predict for.
    _R.DATA_SCIENTIST.value: frozenset({VIEW_OVERVIEW, VIEW_RISK, VIEW_EQUIPMENT, VIEW_MODELS, MANAGE_MODELS}),
    # Security staff: PPE review queue and live alarms.
    _R.SECURITY.value: frozenset({VIEW_ALARMS, ACK_ALARMS, VIEW_VISION, REVIEW_VISION, REPORT_HAZARD, VIEW_CONTRACTORS,
                           MANAGE_EMERGENCY, RECORD_ACCESS}),
    # Inspector: rounds, hazards, the risk picture of their areas.
    _R.INSPECTOR.value: frozenset({VIEW_RISK, VIEW_ALARMS, REPORT_HAZARD, VIEW_ACTIONS}),
    # Worker: reports hazards and follows their own reports.
    _R.WORKER.value: frozenset({REPORT_HAZARD}),
}

# Roles that are normally created with every site in scope.
GROUP_ROLES = frozenset({_R.ADMIN.value, _R.GROUP_MANAGER.value, _R.DATA_SCIENTIST.value})

assert set(ROLE_PERMISSIONS) == set(ROLES), "every role needs a permission set"


def roles_with(permission: str) -> tuple[str, ...]:
    """The roles holding ``permission``, sorted."""
    return tuple(sorted(r for r, perms in ROLE_PERMISSIONS.items() if permission in perms))


def permissions_of(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def can(role_or_scope: str | Scope, permission: str) -> bool:
    role = role_or_scope.role if isinstance(role_or_scope, Scope) else role_or_scope
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")
    return permission in permissions_of(role)


def require(scope: Scope, permission: str, site_id: int | None = None) -> None:
    """Raise :class:`AccessDenied` unless ``scope`` holds ``permission`` (and covers ``site_id``)."""
    if not can(scope, permission):
        raise AccessDenied(f"role {scope.role!r} may not {permission.replace('_', ' ')}")
    if site_id is not None and not scope.allows_site(site_id):
        raise AccessDenied(f"site {site_id} is outside {scope.username}'s sites")


def scope_for(*, user_id: int | None, username: str, role: str, all_sites: bool,
              site_ids: Iterable[int] = ()) -> Scope:
    """The Scope a user's queries run under."""
    if role not in ROLE_PERMISSIONS:
        raise AccessDenied(f"unknown role {role!r}")
    sites = None if all_sites else tuple(sorted({int(s) for s in site_ids}))
    return Scope(user_id=user_id, username=username, role=role, site_ids=sites,
                 sensitive=READ_SENSITIVE in permissions_of(role))


def mask_record(record: dict[str, Any], columns: Iterable[str], scope: Scope) -> dict[str, Any]:
    """A copy of ``record`` with the sensitive ``columns`` masked unless the scope may read them."""
    if scope.sensitive:
        return dict(record)
    out = dict(record)
    for c in columns:
        if c in out:
            out[c] = MASK
    return out
