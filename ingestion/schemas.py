"""Payload schemas (pydantic v2), validated straight from the JSON bytes.

Single reading (topic ``.../<sensor>/telemetry``)::

    {"ts": 1767225600000, "value": 12.5, "unit": "ppm", "quality": 0}

``ts`` is optional (epoch milliseconds, or an ISO 8601 string with a time zone); without
it the time of receipt is used.  ``quality``: 0 good (default), 1 uncertain, 2 bad.

Gateway batch (topic ``<root>/<site>/gateway/telemetry``), ThingsBoard style: sensor code to
a list of readings::

    {"SZ-ELEC-CHEM-voc": [{"ts": 1767225600000, "value": 12.5, "unit": "ppm"}, ...], ...}

Unknown keys are refused: a misspelt field ends in the dead-letter table with its reason
rather than being silently ignored.  Types are strict: ``"value": "5.5"``, ``true`` or
``false`` is not a number (nor is a boolean ``quality`` or ``ts``), a number in a string is
not a time, and numbers must be finite (no ``NaN`` / ``Infinity``).  Whether ``ts`` lies in
the accepted window is checked by the decoder on the raw number, before any conversion.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, NotRequired

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from typing_extensions import TypedDict

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_US = dt.timedelta(microseconds=1)


def _iso_text(v: Any) -> Any:
    """A time in a string must be ISO 8601: "1767225600000" is a number in disguise, refused."""
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return v
        raise ValueError("a number in a string is not a time")
    return v


FiniteFloat = Annotated[StrictFloat, Field(allow_inf_nan=False)]
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class Reading(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    ts: NotRequired[StrictInt | FiniteFloat | IsoTime | None]
    value: FiniteFloat
    unit: Annotated[StrictStr, Field(min_length=1, max_length=20)]
    quality: NotRequired[Annotated[StrictInt, Field(ge=0, le=2)]]


READING = TypeAdapter(Reading)
GATEWAY = TypeAdapter(dict[Annotated[str, Field(min_length=1, max_length=80)], list[Reading]])


_EPOCH_NAIVE = EPOCH.replace(tzinfo=None)


def ts_to_us(ts: Any, default_us: int) -> int:
    """Epoch microseconds from a validated ``ts`` (epoch ms number, aware datetime, or None).

    A number must already be known to lie in the accepted window (the decoder checks the raw
    value first): NaN, infinities and huge values never get here.  A datetime never raises,
    even at the edges of the calendar (``0001-01-01T00:00:00+23:00`` is in year 0 in UTC).
    """
    if ts is None:
        return default_us
    if isinstance(ts, dt.datetime):
        off = ts.utcoffset() or dt.timedelta(0)
        return (ts.replace(tzinfo=None) - _EPOCH_NAIVE) // _US - off // _US
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
            text = (f"{where}: must be finite epoch milliseconds or an ISO 8601 time with a time zone "
                    f"(got {_short(e.get('input'))})")
        else:
            text = f"{'.'.join(str(x) for x in loc) or 'payload'}: {e.get('msg', 'invalid')}"
            if "input" in e and loc and not isinstance(e["input"], (dict, list)):
                text += f" (got {_short(e['input'])})"
        if text not in parts:
            parts.append(text)
    more = f" (+{len(parts) - limit} more)" if len(parts) > limit else ""
    return "invalid_payload", "; ".join(parts[:limit]) + more


def _short(v: Any, limit: int = 80) -> str:
    try:
        r = repr(v)
    except ValueError:  # an int too long for repr()
        r = "<a number of more than 4300 digits>"
    return r if len(r) <= limit else r[:limit] + "..."
