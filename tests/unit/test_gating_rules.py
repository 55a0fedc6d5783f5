"""Training gating rules without a database: which rule covers an area, when it bites, the message."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

from qhse.domain.gating import find_violations, live_rules, needs_alarm_check, resolution, rule_applies


def _rule(**kw):
    base = dict(id=1, code="GAS_H2S", name="H2S training", active=True, site_id=None, area_id=None,
                gas_areas_only=False, area_kinds=None, trigger="always", match="all", required_courses=["H2S"])
    return NS(**(base | kw))


GAS = NS(id=7, site_id=1, name="Gas room", is_gas_area=True, kind="process")
HALL = NS(id=8, site_id=1, name="Hall", is_gas_area=False, kind="assembly")


def test_rule_filters():
    assert rule_applies(_rule(), HALL)
    assert not rule_applies(_rule(active=False), GAS)
    assert not rule_applies(_rule(site_id=2), GAS)
    assert not rule_applies(_rule(area_id=8), GAS) and rule_applies(_rule(area_id=8), HALL)
    assert rule_applies(_rule(gas_areas_only=True), GAS) and not rule_applies(_rule(gas_areas_only=True), HALL)
    assert not rule_applies(_rule(area_kinds=["chemical_store"]), HALL)


def test_open_alarm_rules_bite_only_while_an_alarm_is_open():
    always, on_alarm = _rule(id=1), _rule(id=2, trigger="open_alarm")
    assert needs_alarm_check([always, on_alarm]) and not needs_alarm_check([always])
    assert live_rules([always, on_alarm], None) == [always]
    assert live_rules([always, on_alarm], 42) == [always, on_alarm]


def test_violations_all_and_any():
    expired = dt.date(2026, 1, 31)
    state = {(1, "H2S"): True, (1, "CONF"): None, (2, "H2S"): expired, (2, "CONF"): None}
    names = {1: "Valid One", 2: "Expired Two"}
    both = _rule(required_courses=["H2S", "CONF"], trigger="open_alarm")
    v = find_violations([both], [1, 2], GAS, state, names, alarm_id=9)
    assert [(x.person_id, x.alarm_id) for x in v] == [(1, 9), (2, 9)]
    assert v[1].missing == [{"course": "H2S", "expired_on": "2026-01-31"}, {"course": "CONF", "expired_on": None}]
    assert v[1].message == ("no entry to Gas room for Expired Two while alarm #9 is open: H2S training "
                            "(H2S expired on 2026-01-31, CONF never passed)")
    anyone = _rule(required_courses=["H2S", "CONF"], match="any")
    v = find_violations([anyone], [1, 2], GAS, state, names, alarm_id=None)
    assert [x.person_id for x in v] == [2] and v[0].alarm_id is None and "while alarm" not in v[0].message


def test_resolution():
    assert resolution(None, True) == "rule_inactive"
    assert resolution(_rule(trigger="open_alarm"), alarm_open=False) == "alarm_cleared"
    assert resolution(_rule(trigger="open_alarm"), alarm_open=True) == "training_valid"
    assert resolution(_rule(), alarm_open=False) == "training_valid"
