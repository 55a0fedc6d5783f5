"""Inspection answers written as text (``KEY=VALUE``, ``TITLE|CATEGORY|SEVERITY``): the parsing rule.

Pure: no database.  A checklist item's ``type`` (``bool`` by default, ``number`` or anything else
for free text) decides how its answer is read:

* bool: yes / y / true / 1 / ok answer yes; no / n / false / 0 / fail answer no (any case);
* number: an int, or a float when the text has a decimal point;
* other: the text as given.

Keys that are not on the checklist are kept as text (the inspection rules then report them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

YES = ("yes", "true", "y", "1", "ok")
NO = ("no", "false", "n", "0", "fail")


class AnswerError(ValueError):
    """An answer that cannot be read; the message names the item and what to write."""


def parse_answers(answers: Iterable[str], checklist: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` -> ``{key: value}`` typed by the checklist item of each key."""
    types = {it["key"]: it.get("type", "bool") for it in checklist or []}
    results: dict[str, Any] = {}
    for a in answers:
        if "=" not in a:
            raise AnswerError(f"--set {a!r}: use KEY=VALUE")
        k, v = a.split("=", 1)
        k = k.strip()
        typ = types.get(k)
        if typ == "bool":
            low = v.strip().lower()
            if low not in YES + NO:
                raise AnswerError(f"{k}: answer yes or no, not {v!r}")
            results[k] = low in YES
        elif typ == "number":
            try:
                results[k] = float(v) if "." in v else int(v)
            except ValueError:
                raise AnswerError(f"{k}: {v!r} is not a number") from None
        else:
            results[k] = v
    return results


def parse_finding(text: str) -> dict[str, Any]:
    """``"TITLE[|CATEGORY[|SEVERITY]]"`` -> ``{"title": ..., "category": ..., "severity": ...}``."""
    parts = [p.strip() for p in text.split("|")]
    item = {"title": parts[0]}
    if len(parts) > 1 and parts[1]:
        item["category"] = parts[1]
    if len(parts) > 2 and parts[2]:
        item["severity"] = parts[2]
    return item
