"""Recurrence: the same kind of hazard at the same place again within N days.

A new report is a repeat when an earlier, not rejected report of the same category was
made at the same asset (or, for reports without an asset, in the same area) within the
site's window (``settings["recurrence_days"]``, default 30).  It is linked to the most
recent such report (``predecessor_id``); following the links gives every predecessor.
The search is ``qhse/services/recurrence.py``; the window and the match are decided here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from qhse.vocab import HazardStatus

DEFAULT_WINDOW_DAYS = 30


class RecurrenceError(ValueError):
    pass


def window_days(settings: dict[str, Any] | None, site_code: str = "?") -> int:
    v = (settings or {}).get("recurrence_days", DEFAULT_WINDOW_DAYS)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise RecurrenceError(f"site {site_code}: recurrence_days must be a whole number of days >= 1")
    return v


@dataclass(frozen=True)
class RepeatKey:
    """What an earlier report must share with a new one to make it a repeat."""

    category: str
    asset_id: int | None  # the same asset when the new report names one
    area_id: int | None  # otherwise the same area
    since: dt.datetime  # reported at or after
    until: dt.datetime  # and at or before the new report
    excluded_status: str = HazardStatus.REJECTED.value


def repeat_key(*, category: str, asset_id: int | None, area_id: int, reported_at: dt.datetime,
               days: int) -> RepeatKey:
    if asset_id:
        return RepeatKey(category, asset_id, None, reported_at - dt.timedelta(days=days), reported_at)
    return RepeatKey(category, None, area_id, reported_at - dt.timedelta(days=days), reported_at)
