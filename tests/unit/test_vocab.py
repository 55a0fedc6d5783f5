"""qhse.vocab: each enum is exactly what the database checks, and the module is a leaf."""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

import sqlalchemy as sa

from db import models as m
from qhse import vocab

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("qhse", "db", "ingestion", "ml", "vision", "dashboard", "tests", "bench")

# Every column whose CHECK constraint is an IN list, and the vocabulary it stores.
COLUMNS: dict[tuple[str, str], type[StrEnum]] = {
    ("hazard_report", "severity"): vocab.HazardSeverity,
    ("hazard_report", "status"): vocab.HazardStatus,
    ("hazard_report", "source"): vocab.HazardSource,
    ("corrective_action", "status"): vocab.ActionStatus,
    ("inspection", "status"): vocab.InspectionStatus,
    ("incident", "kind"): vocab.IncidentKind,
    ("job_run", "status"): vocab.JobRunStatus,
    ("notification", "channel"): vocab.NotificationChannel,
    ("notification", "status"): vocab.NotificationStatus,
    ("alarm_rule", "severity"): vocab.AlarmSeverity,
    ("alarm", "severity"): vocab.AlarmSeverity,
    ("alarm", "status"): vocab.AlarmStatus,
    ("alarm_rule", "kind"): vocab.AlarmRuleKind,
    ("alarm_rule", "op"): vocab.AlarmOp,
    ("asset", "product_type"): vocab.ProductType,
    ("maintenance_event", "kind"): vocab.MaintenanceKind,
    ("machine_event", "severity"): vocab.MachineEventSeverity,
    ("failure_prediction", "risk_band"): vocab.RiskBand,
    ("ingest_heartbeat", "status"): vocab.HeartbeatStatus,
    ("user_account", "role"): vocab.Role,
    ("user_account", "locale"): vocab.Locale,
    ("person", "kind"): vocab.PersonKind,
    ("area", "risk_class"): vocab.RiskClass,
    ("contractor_company", "status"): vocab.ContractorStatus,
    ("contractor_job", "status"): vocab.ContractorJobStatus,
    ("supervisor_check", "result"): vocab.CheckResult,
    ("job_signoff", "party"): vocab.SignoffParty,
    ("gating_rule", "trigger"): vocab.GatingTrigger,
    ("gating_rule", "match"): vocab.GatingMatch,
    ("plan_template", "kind"): vocab.EmergencyKind,
    ("emergency", "kind"): vocab.EmergencyKind,
    ("emergency", "status"): vocab.EmergencyStatus,
    ("emergency_event", "kind"): vocab.EmergencyEventKind,
    ("regulation", "kind"): vocab.RegulationKind,
    ("regulation", "ledger_kind"): vocab.LedgerKind,
    ("assessment_indicator", "level"): vocab.AssessmentLevel,
    ("assessment_score", "rating"): vocab.Rating,
    ("assessment_score", "unit_type"): vocab.UnitType,
    ("vision_event", "review_status"): vocab.ReviewStatus,
}

_IN_LIST = re.compile(r"^(?:(\w+) IS NULL OR )?(\w+) IN \((.*)\)$")


def _checked_lists() -> dict[tuple[str, str], tuple[str, ...]]:
    """(table, column) -> the values of its `column IN (...)` CHECK constraint, from the metadata."""
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for table in m.metadata.tables.values():
        for c in table.constraints:
            if not isinstance(c, sa.CheckConstraint):
                continue
            hit = _IN_LIST.match(str(c.sqltext))
            if hit:
                assert hit.group(1) in (None, hit.group(2)), c.sqltext
                out[(table.name, hit.group(2))] = tuple(re.findall(r"'([^']*)'", hit.group(3)))
    return out


def test_each_enum_equals_the_check_constraints_that_use_it() -> None:
    checked = _checked_lists()
    assert set(checked) == set(COLUMNS), "every IN-list CHECK needs its vocabulary here (and back)"
    for key, enum in COLUMNS.items():
        assert checked[key] == vocab.values(enum), key


def test_every_enum_is_used_by_a_column_and_documented() -> None:
    exported = {getattr(vocab, n) for n in vocab.__all__}
    enums = {e for e in exported if isinstance(e, type) and issubclass(e, StrEnum)}
    assert enums - {vocab.EscalationLevel} == set(COLUMNS.values())
    for e in enums:
        assert e.__doc__ and e.__doc__ != StrEnum.__doc__, e


def test_escalation_ladder_matches_the_level_check() -> None:
    (ck,) = [c for c in m.CorrectiveAction.__table__.constraints
             if isinstance(c, sa.CheckConstraint) and "escalation_level" in str(c.sqltext)]
    lo, hi = map(int, re.fullmatch(r"escalation_level BETWEEN (\d+) AND (\d+)", str(ck.sqltext)).groups())
    assert [lv.level for lv in vocab.EscalationLevel] == list(range(lo, hi + 1))
    assert vocab.values(vocab.EscalationLevel) == ("owner", "area_manager", "plant_manager", "group")
    assert vocab.EscalationLevel.at(1) is vocab.EscalationLevel.AREA_MANAGER
    assert vocab.EscalationLevel.AREA_MANAGER.label == "area manager"


def test_members_are_their_stored_strings() -> None:
    assert vocab.HazardSeverity.SEVERE == "severe"
    assert f"{vocab.ReviewStatus.FALSE_POSITIVE}" == "false_positive"
    assert vocab.HazardSeverity("high") is vocab.HazardSeverity.HIGH


def test_vocab_imports_nothing_of_the_project() -> None:
    tree = ast.parse((ROOT / "qhse" / "vocab.py").read_text())
    mods = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            mods.append(node.module or "")
    assert [x for x in mods if x.split(".")[0] in PROJECT] == []
