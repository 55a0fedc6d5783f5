"""All ORM models.  Import from here: ``from db.models import Site, SensorReading``."""

from .assessment import AssessmentIndicator, AssessmentScore, AuditLog
from .assets import (
    Alarm,
    AlarmRule,
    Asset,
    DeadLetter,
    FailureEvent,
    FailurePrediction,
    MaintenanceEvent,
    Sensor,
    SensorReading,
    SensorReadingDaily,
    SensorReadingHourly,
)
from .auth import LoginAttempt, UserSession
from .base import Base
from .ingest import IngestHeartbeat
from .org import (
    ROLES,
    Area,
    ContractorCompany,
    Department,
    Enterprise,
    HoursWorked,
    Person,
    Post,
    Region,
    Site,
    UserAccount,
    UserSiteScope,
)
from .people import (
    AccessRecord,
    ContractorJob,
    ContractorJobWorker,
    EmergencyResource,
    HazardousMaterial,
    Qualification,
    TrainingCourse,
    TrainingRecord,
)
from .safety import (
    ActionEscalation,
    CorrectiveAction,
    DispatchRule,
    HazardReport,
    HazardTransition,
    Incident,
    Inspection,
    InspectionRoute,
    JobRun,
    Notification,
    SlaPolicy,
)
from .vision import Camera, CameraZone, VisionEvent
from .response import (
    Emergency,
    EmergencyEvent,
    EmergencyReview,
    EntryWarning,
    GatingRule,
    InductionAttempt,
    JobSignoff,
    PlanTemplate,
    Regulation,
    SupervisorCheck,
)

metadata = Base.metadata

__all__ = [n for n in dir() if not n.startswith("_")]
