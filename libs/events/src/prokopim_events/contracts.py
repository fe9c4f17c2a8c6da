"""Published event contracts: the `data` of every event prokopim puts on NATS.

These are promises to subscribers. Only add optional fields; a breaking change is a new
type with a new version suffix. Every event about a case carries `case_id` and the SOP id
and version the case started under. An event that completes a step carries `step` and
`next_step` (None when the SOP ends); the service owning `next_step` picks the case up from
there. Hand-over events carry the `case` file so no service ever has to ask another.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class Contract(BaseModel):
    """Base of every event's data model."""

    model_config = ConfigDict(frozen=True, extra="allow")
    TYPE: ClassVar[str]


class Requester(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    agency: str
    email: EmailStr | None = None
    phone: str | None = None


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: str = Field(description="script, agenda, letter, photo, video, ...")
    ref: str = Field(description="where the file is: a URL or a document-store reference")
    name: str | None = None


class CaseFile(BaseModel):
    """What every service needs to know about a case, carried along with hand-overs."""

    model_config = ConfigDict(frozen=True)
    letter_number: str
    requester: Requester
    subject: str
    activity_name: str
    activity_date: date
    attachments: list[Attachment] = []


class Draft(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: int
    files: list[Attachment]
    notes: str | None = None


class Assignment(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    role: str
    team: str | None = None


class CaseEvent(Contract):
    case_id: UUID
    sop_id: str
    sop_version: str


class StepCompleted(CaseEvent):
    """Base of events that complete a step."""

    step: int
    next_step: int | None
    inputs: dict[str, str] = {}
    outputs: list[str] = []


class StepOpened(CaseEvent):
    """A service took the case up at one of its steps (a hand-over or a rework)."""

    step: int
    reason: Literal["handover", "rework"]
    cause_event_id: UUID
    case: CaseFile
    draft: Draft | None = None


# --- intake ---------------------------------------------------------------------------
class RequestReceived(StepCompleted):
    TYPE = "prokopim.intake.request-received.v1"
    case: CaseFile


class DispositionGiven(StepCompleted):
    TYPE = "prokopim.intake.disposition-given.v1"
    case: CaseFile
    instruction: str


# --- scheduling -------------------------------------------------------------------------
class SchedulingStepOpened(StepOpened):
    TYPE = "prokopim.scheduling.step-opened.v1"


class ScheduleCoordinated(StepCompleted):
    TYPE = "prokopim.scheduling.schedule-coordinated.v1"
    scheduled_at: datetime
    location: str
    notes: str | None = None


class RequesterNotified(StepCompleted):
    TYPE = "prokopim.scheduling.requester-notified.v1"
    notification_id: UUID
    recipient: Requester
    channel: str
    message: str
    scheduled_at: datetime


class StaffAssigned(StepCompleted):
    TYPE = "prokopim.scheduling.staff-assigned.v1"
    case: CaseFile
    assignments: list[Assignment]
    scheduled_at: datetime | None = None


# --- production -------------------------------------------------------------------------
class ProductionStepOpened(StepOpened):
    TYPE = "prokopim.production.step-opened.v1"


class EquipmentPrepared(CaseEvent):
    TYPE = "prokopim.production.equipment-prepared.v1"
    step: int
    checklist: dict[str, bool]


class RecordingMade(StepCompleted):
    TYPE = "prokopim.production.recording-made.v1"
    files: list[Attachment]


class DraftProduced(StepCompleted):
    TYPE = "prokopim.production.draft-produced.v1"
    case: CaseFile
    draft: Draft


# --- review -----------------------------------------------------------------------------
class ReviewStepOpened(StepOpened):
    TYPE = "prokopim.review.step-opened.v1"


class DraftApproved(StepCompleted):
    TYPE = "prokopim.review.draft-approved.v1"
    case: CaseFile
    draft: Draft
    level: int
    reviewer: str
    note: str | None = None


class DraftRejected(StepCompleted):
    TYPE = "prokopim.review.draft-rejected.v1"
    case: CaseFile
    draft: Draft
    level: int
    reviewer: str
    reason: str


# --- publishing -------------------------------------------------------------------------
class PublishingStepOpened(StepOpened):
    TYPE = "prokopim.publishing.step-opened.v1"


class RecordingHandedOver(StepCompleted):
    TYPE = "prokopim.publishing.recording-handed-over.v1"
    recipient: Requester
    draft_version: int
    archive_name: str
    archivist_role: str


class RecordingArchived(CaseEvent):
    TYPE = "prokopim.publishing.recording-archived.v1"
    step: int
    archive_name: str
    location: str


class NewsPublished(StepCompleted):
    TYPE = "prokopim.publishing.news-published.v1"
    website_url: str
    emailed_outlets: list[UUID]
    draft_version: int


class MediaOutlet(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    email: EmailStr
    active: bool = True


class MediaOutletRegistered(Contract):
    TYPE = "prokopim.publishing.media-outlet-registered.v1"
    outlet_id: UUID
    name: str
    email: EmailStr


class MediaOutletUpdated(Contract):
    TYPE = "prokopim.publishing.media-outlet-updated.v1"
    outlet_id: UUID
    name: str
    email: EmailStr


class MediaOutletDeactivated(Contract):
    TYPE = "prokopim.publishing.media-outlet-deactivated.v1"
    outlet_id: UUID


# --- sla (published by the ledger) -------------------------------------------------------
class SlaThresholdCrossed(CaseEvent):
    """A running step attempt used a share of its standard time, counted in working time.

    Published by the ledger when the threshold instant passes, even if nothing else happens
    in the case; once per case, step, attempt and threshold (the event id is derived from
    them). `assignees` are the staff the case was assigned to (StaffAssigned), if any yet.
    """

    step: int
    attempt: int = Field(description="1 for the first time the case entered the step")
    role: str = Field(description="the SOP role answerable for the step")
    assignees: list[Assignment] = []
    threshold: float = Field(description="share of the standard: 0.75 at risk, 1.0 breached")
    standard_seconds: int = Field(description="the step's standard, in working seconds")
    entered_at: datetime = Field(description="when the case entered the step")
    crossed_at: datetime = Field(description="the instant the threshold was reached")


class SlaAtRisk(SlaThresholdCrossed):
    TYPE = "prokopim.sla.at-risk.v1"


class SlaBreached(SlaThresholdCrossed):
    TYPE = "prokopim.sla.breached.v1"


CONTRACTS: dict[str, type[Contract]] = {
    cls.TYPE: cls
    for cls in (
        RequestReceived,
        DispositionGiven,
        SchedulingStepOpened,
        ScheduleCoordinated,
        RequesterNotified,
        StaffAssigned,
        ProductionStepOpened,
        EquipmentPrepared,
        RecordingMade,
        DraftProduced,
        ReviewStepOpened,
        DraftApproved,
        DraftRejected,
        PublishingStepOpened,
        RecordingHandedOver,
        RecordingArchived,
        NewsPublished,
        MediaOutletRegistered,
        MediaOutletUpdated,
        MediaOutletDeactivated,
        SlaAtRisk,
        SlaBreached,
    )
}


def parse(event_type: str, data: dict[str, Any]) -> Contract:
    """Parse an event's data into its contract model (KeyError for an unknown type)."""
    return CONTRACTS[event_type].model_validate(data)


def service_of(event_type: str) -> str:
    """Return the service that publishes an event type (`prokopim.<service>.<name>.vN`)."""
    return event_type.split(".")[1]
