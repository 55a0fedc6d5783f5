"""Reviewing PPE events: the verdicts and when an event may be reviewed.

* ``confirmed``: a real violation (counts in KPIs and risk; exported as training data);
* ``dismissed``: real detection but not a violation to act on (e.g. authorised visitor);
* ``false_positive``: the detector was wrong (exported as a negative example).

Only events still ``new`` can be reviewed, by roles holding ``review_vision`` on the
site (:func:`check_review`).  ``qhse/services/vision_review.py`` locks the event, records
the verdict and audits it.
"""

from __future__ import annotations

from qhse.domain import access
from qhse.domain.access import Scope
from qhse.vocab import ReviewStatus

DECISIONS = tuple(s.value for s in ReviewStatus if s is not ReviewStatus.NEW)


class ReviewError(ValueError):
    """The event cannot be reviewed (unknown, already reviewed, bad decision)."""


def check_decision(decision: str, scope: Scope) -> None:
    """A known verdict, from a role that may review camera events."""
    if decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; use one of {', '.join(DECISIONS)}")
    if not access.can(scope, access.REVIEW_VISION):
        raise access.AccessDenied(f"role {scope.role!r} may not review camera events")


def check_review(event_id: int, site_id: int | None, review_status: str | None, scope: Scope) -> None:
    """The event exists in the scope's sites and has not been reviewed yet."""
    if review_status is None or not scope.allows_site(site_id):
        raise ReviewError(f"no camera event #{event_id}")  # the same answer as for a missing one
    if review_status != ReviewStatus.NEW:
        raise ReviewError(f"event #{event_id} was already reviewed ({review_status.replace('_', ' ')})")
