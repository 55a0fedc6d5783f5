"""Payload schemas (pydantic v2), validated straight from the JSON bytes.

Single reading (topic ``.../<sensor>/telemetry``)::

    {"ts": 1767225600000, "value": 12.5, "unit": "ppm", "quality": 0}

``ts`` is optional (epoch milliseconds, or an ISO 8601 string with a time zone); without
it the time of receipt is used.  ``quality``: 0 good (default), 1 uncertain, 2 bad.

Gateway batch (topic ``<root>/<site>/gateway/telemetry``), ThingsBoard style: sensor code to
a list of readings::

    {"SZ-ELEC-CHEM-voc": [{"ts": 1767225600000, "value": 12.5, "unit": "ppm"}, ...], ...}

Unknown keys are refused: a misspelt field ends in the dead-letter table with its reason
rather than being silently ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, NotRequired

from pydantic import AwareDatetime, ConfigDict, Field, StrictFloat, StrictInt, TypeAdapter, ValidationError
from typing_extensions import TypedDict

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)


class Reading(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    ts: NotRequired[StrictInt | StrictFloat | AwareDatetime | None]
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: Annotated[str, Field(min_length=1, max_length=20)]
    quality: NotRequired[Annotated[int, Field(ge=0, le=2)]]


READING = TypeAdapter(Reading)
GATEWAY = TypeAdapter(dict[Annotated[str, Field(min_length=1, max_length=80)], list[Reading]])


def ts_to_us(ts: Any, default_us: int) -> int:
    """Epoch microseconds from a validated ``ts`` (epoch ms number, aware datetime, or None)."""
    if ts is None:
        return default_us
    if isinstance(ts, dt.datetime):
        return (ts - EPOCH) // _US
    return int(round(ts * 1000.0))


def describe_error(exc: ValidationError, limit: int = 3) -> tuple[str, str]:
    """(reason, detail) for a payload that failed validation."""
    errs = exc.errors(include_url=False)
    if any(e.get("type") == "json_invalid" for e in errs):
        msg = next(e.get("msg", "invalid JSON") for e in errs if e.get("type") == "json_invalid")
        return "bad_json", msg
    parts: list[str] = []
    for e in errs:
        loc = tuple(e.get("loc", ()))
        if "ts" in loc:
            # One line for the ts union instead of one per alternative.
            where = ".".join(str(x) for x in loc[: loc.index("ts") + 1])
            text = f"{where}: must be epoch milliseconds or an ISO 8601 time with a time zone (got {e.get('input')!r})"
        else:
            text = f"{'.'.join(str(x) for x in loc) or 'payload'}: {e.get('msg', 'invalid')}"
        if text not in parts:
            parts.append(text)
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "invalid_payload", "; ".join(parts[:limit]) + more
