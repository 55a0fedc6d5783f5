"""The platform's vocabularies: one ``StrEnum`` per set of stored words.

Each member's value is exactly the string stored in the database (and checked by the
column's CHECK constraint in ``db/models``), so ``HazardSeverity.SEVERE == "severe"`` and a
member can be passed wherever a plain string is expected.  The order of the members is the
order used in the CHECK constraints and in pick lists (lowest first where there is a rank).

This module is a leaf: it imports nothing of the project.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ActionStatus",
    "AlarmOp",
    "AlarmRuleKind",
    "AlarmSeverity",
    "AlarmStatus",
    "AssessmentLevel",
    "CheckResult",
    "ContractorJobStatus",
    "ContractorStatus",
    "EmergencyEventKind",
    "EmergencyKind",
    "EmergencyStatus",
    "EscalationLevel",
    "GatingMatch",
    "GatingTrigger",
    "HazardSeverity",
    "HazardSource",
    "HazardStatus",
    "HeartbeatStatus",
    "IncidentKind",
    "InspectionStatus",
    "JobRunStatus",
    "LedgerKind",
    "Locale",
    "MachineEventSeverity",
    "MaintenanceKind",
    "NotificationChannel",
    "NotificationStatus",
    "PersonKind",
    "ProductType",
    "Rating",
    "RegulationKind",
    "ReviewStatus",
    "RiskBand",
    "RiskClass",
    "Role",
    "SignoffParty",
    "UnitType",
    "values",
]


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The stored strings of an enum, in declaration order (for CHECK lists and choices)."""
    return tuple(member.value for member in enum)


# --- hazards and corrective actions -------------------------------------------------

class HazardSeverity(StrEnum):
    """Severity of a hazard report, lowest first (SLA hours, dispatch, points, weights)."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    SEVERE = "severe"


class HazardStatus(StrEnum):
    """Workflow state of a hazard report (hazard_report.status)."""

    REPORTED = "reported"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RECTIFIED = "rectified"
    VERIFIED = "verified"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


class HazardSource(StrEnum):
    """Where a hazard report came from (hazard_report.source)."""

    WORKER = "worker"
    INSPECTION = "inspection"
    ALARM = "alarm"
    VISION = "vision"
    IMPORT = "import"


class ActionStatus(StrEnum):
    """State of a corrective action (corrective_action.status)."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    VERIFIED = "verified"
    CANCELLED = "cancelled"


class EscalationLevel(StrEnum):
    """Rungs of the SLA escalation ladder, in order: the index is corrective_action.escalation_level
    (0..3) and the value is what action_escalation.notified stores and the notify role a rung
    reaches.  ``label`` is the spelling shown to people ("area manager")."""

    OWNER = "owner"
    AREA_MANAGER = "area_manager"
    PLANT_MANAGER = "plant_manager"
    GROUP = "group"

    @property
    def level(self) -> int:
        return list(type(self)).index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @classmethod
    def at(cls, level: int) -> EscalationLevel:
        return list(cls)[level]


class IncidentKind(StrEnum):
    """Kind of a recorded incident (incident.kind)."""

    INJURY = "injury"
    ILLNESS = "illness"
    NEAR_MISS = "near_miss"
    PROPERTY_DAMAGE = "property_damage"
    FIRST_AID = "first_aid"
    ENVIRONMENTAL = "environmental"


class InspectionStatus(StrEnum):
    """State of a scheduled inspection (inspection.status)."""

    SCHEDULED = "scheduled"
    DONE = "done"
    MISSED = "missed"


# --- alarms and assets ----------------------------------------------------------------

class AlarmSeverity(StrEnum):
    """Severity of an alarm rule and of the alarms it raises, lowest first."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlarmStatus(StrEnum):
    """State of a raised alarm (alarm.status)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class AlarmRuleKind(StrEnum):
    """How an alarm rule compares: the value itself, or its rate of change per minute."""

    THRESHOLD = "threshold"
    RATE = "rate"


class AlarmOp(StrEnum):
    """Comparison of an alarm rule (alarm_rule.op)."""

    GT = ">"
    LT = "<"


class ProductType(StrEnum):
    """Product quality variant of a machine asset (asset.product_type: low, medium, high)."""

    L = "L"
    M = "M"
    H = "H"


class MaintenanceKind(StrEnum):
    """Kind of a maintenance event (maintenance_event.kind)."""

    PREVENTIVE = "preventive"
    CORRECTIVE = "corrective"
    TOOL_CHANGE = "tool_change"
    INSPECTION = "inspection"


class MachineEventSeverity(StrEnum):
    """Severity of an error or alarm logged by a machine (machine_event.severity), lowest first."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class RiskBand(StrEnum):
    """Band of a failure prediction's probability (failure_prediction.risk_band), lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class HeartbeatStatus(StrEnum):
    """State an ingest process reports in its heartbeat (ingest_heartbeat.status)."""

    RUNNING = "running"
    STOPPED = "stopped"


# --- organisation and people ---------------------------------------------------------

class Role(StrEnum):
    """Role of a user account (user_account.role); the access policy maps each to permissions."""

    ADMIN = "admin"
    GROUP_MANAGER = "group_manager"
    PLANT_MANAGER = "plant_manager"
    PLANT_HEAD = "plant_head"
    DATA_SCIENTIST = "data_scientist"
    SECURITY = "security"
    INSPECTOR = "inspector"
    WORKER = "worker"


class Locale(StrEnum):
    """Interface language of a user account (user_account.locale)."""

    EN = "en"
    ZH = "zh"


class PersonKind(StrEnum):
    """An employee or a contractor's worker (person.kind)."""

    EMPLOYEE = "employee"
    CONTRACTOR = "contractor"


class RiskClass(StrEnum):
    """Risk class of an area (area.risk_class): A highest; sets inspection frequency."""

    A = "A"
    B = "B"
    C = "C"


class ContractorStatus(StrEnum):
    """Approval state of a contractor company (contractor_company.status)."""

    PENDING = "pending"
    APPROVED = "approved"
    SUSPENDED = "suspended"


class ContractorJobStatus(StrEnum):
    """State of a contractor job (contractor_job.status)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"



class CheckResult(StrEnum):
    """Outcome of a supervisor's check on a contractor job (supervisor_check.result)."""

    OK = "ok"
    ISSUES = "issues"
    STOP_WORK = "stop_work"


class SignoffParty(StrEnum):
    """Parties that must sign a contractor job off, in signing order (job_signoff.party)."""

    CONTRACTOR = "contractor"
    SUPERVISOR = "supervisor"
    AREA_OWNER = "area_owner"
    SAFETY = "safety"


class GatingTrigger(StrEnum):
    """When an entry gating rule applies (gating_rule.trigger)."""

    OPEN_ALARM = "open_alarm"
    ALWAYS = "always"


class GatingMatch(StrEnum):
    """Whether all or any of a gating rule's requirements must be met (gating_rule.match)."""

    ALL = "all"
    ANY = "any"


# --- emergencies and regulations ----------------------------------------------------

class EmergencyKind(StrEnum):
    """Emergency type (plan_template.kind, emergency.kind)."""

    FIRE = "fire"
    GAS_LEAK = "gas_leak"
    CHEMICAL_SPILL = "chemical_spill"
    INJURY = "injury"


class EmergencyStatus(StrEnum):
    """State of a declared emergency (emergency.status)."""

    ACTIVE = "active"
    CLOSED = "closed"


class EmergencyEventKind(StrEnum):
    """Entry kind in an emergency's timeline (emergency_event.kind)."""

    DECLARED = "declared"
    PLAN = "plan"
    NOTIFIED = "notified"
    ACTION = "action"
    RESOURCE_USED = "resource_used"
    NOTE = "note"
    CLOSED = "closed"
    REVIEWED = "reviewed"


class RegulationKind(StrEnum):
    """Kind of a regulation in the register (regulation.kind)."""

    LAW = "law"
    REGULATION = "regulation"
    NATIONAL_STANDARD = "national_standard"
    LOCAL_STANDARD = "local_standard"
    INTERNAL_STANDARD = "internal_standard"


class LedgerKind(StrEnum):
    """Ledger a regulation is evidenced by (regulation.ledger_kind, nullable)."""

    WASTE_GAS = "waste_gas"
    TRAINING = "training"
    INSPECTION = "inspection"


# --- assessment -----------------------------------------------------------------------

class AssessmentLevel(StrEnum):
    """Level an assessment indicator applies to (assessment_indicator.level)."""

    ENTERPRISE = "enterprise"
    DEPARTMENT = "department"
    POST = "post"


class UnitType(StrEnum):
    """Kind of unit an assessment score is for (assessment_score.unit_type)."""

    ENTERPRISE = "enterprise"
    SITE = "site"
    DEPARTMENT = "department"
    POST = "post"


class Rating(StrEnum):
    """Scorecard rating of an assessed unit (assessment_score.rating), best first."""

    EXCELLENT = "excellent"
    QUALIFIED = "qualified"
    NEEDS_IMPROVEMENT = "needs_improvement"
    NOT_AVAILABLE = "not_available"


# --- jobs, notifications, vision ------------------------------------------------------

class JobRunStatus(StrEnum):
    """Outcome of a scheduled job run (job_run.status)."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


class NotificationChannel(StrEnum):
    """Channel a notification is sent through (notification.channel)."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    MQTT = "mqtt"


class NotificationStatus(StrEnum):
    """Delivery state of a notification (notification.status)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class ReviewStatus(StrEnum):
    """Reviewer's verdict on a vision event (vision_event.review_status); ``new`` until reviewed."""

    NEW = "new"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    FALSE_POSITIVE = "false_positive"
