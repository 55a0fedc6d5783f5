"""Inspection answers written as text: qhse.domain.inspection_answers (no database)."""

from __future__ import annotations

import pytest

from qhse.domain.inspection_answers import AnswerError, parse_answers, parse_finding

CHECKLIST = [{"key": "exits_clear", "label": "Exits clear"}, {"key": "housekeeping", "type": "number"},
             {"key": "pressure", "type": "number"}, {"key": "remarks", "type": "text"}]


def test_answers_are_typed_by_their_checklist_item():
    got = parse_answers(["exits_clear=Yes", " housekeeping =4", "pressure=2.5", "remarks=a=b", "extra=1"], CHECKLIST)
    assert got == {"exits_clear": True, "housekeeping": 4, "pressure": 2.5, "remarks": "a=b", "extra": "1"}
    assert parse_answers(["exits_clear=fail"], CHECKLIST) == {"exits_clear": False}
    assert all(parse_answers([f"exits_clear={v}"], CHECKLIST)["exits_clear"] for v in ("y", "TRUE", "1", "ok"))
    assert not any(parse_answers([f"exits_clear={v}"], CHECKLIST)["exits_clear"] for v in ("n", "False", "0", "no"))
    assert parse_answers([], None) == {}


@pytest.mark.parametrize(("answer", "message"), [
    ("exits_clear", "--set 'exits_clear': use KEY=VALUE"),
    ("exits_clear=maybe", "exits_clear: answer yes or no, not 'maybe'"),
    ("housekeeping=four", "housekeeping: 'four' is not a number"),
    ("pressure=1.2.3", "pressure: '1.2.3' is not a number"),
])
def test_unreadable_answers_say_what_to_write(answer, message):
    with pytest.raises(AnswerError) as exc:
        parse_answers([answer], CHECKLIST)
    assert str(exc.value) == message


def test_findings():
    assert parse_finding("Forklift battery leaking|chemical|high") == {
        "title": "Forklift battery leaking", "category": "chemical", "severity": "high"}
    assert parse_finding(" Loose cable ") == {"title": "Loose cable"}
    assert parse_finding("Loose cable||severe") == {"title": "Loose cable", "severity": "severe"}
