"""Published event contracts: the `data` of every event prokopim puts on NATS.

These are promises to subscribers. Only add optional fields; a breaking change is a new
type with a new version suffix. A contract is a boundary: building one with a field it does
not declare fails (`extra="forbid"`, on every nested type too), so nothing undeclared is
ever published; `parse`, the reading side, ignores fields this build does not know yet, so a
newer publisher's optional fields never stop an older reader. Each type says who it is
for (`AUDIENCE`): `public` types are the promise to outside subscribers; `internal` ones
are a service's own bookkeeping, relayed like the rest but not to be built on.

Every event about a case carries `case_id` and the SOP id and version the case started
under. An event that completes a step carries `step` and
`next_step` (None when the SOP ends); the service owning `next_step` picks the case up from
there. Hand-over events carry the `case` file so no service ever has to ask another.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, model_validator

Audience = Literal["public", "internal"]
_READING = "reading"  # validation context key: parse() tolerates fields it does not know


class Part(BaseModel):
    """Base of every published model: immutable, and no field it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _ignore_unknown_when_reading(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get(_READING) and isinstance(data, dict):
            return {key: value for key, value in data.items() if key in cls.model_fields}
        return data


class Contract(Part):
    """Base of every event's data model."""

    TYPE: ClassVar[str]
    AUDIENCE: ClassVar[Audience] = "public"


class Requester(Part):
    name: str
    agency: str
    email: EmailStr | None = None
    phone: str | None = None


class Attachment(Part):
    kind: str = Field(description="script, agenda, letter, photo, video, ...")
    ref: str = Field(description="where the file is: a URL or a document-store reference")
    name: str | None = None


class CaseFile(Part):
    """What every service needs to know about a case, carried along with hand-overs."""

    letter_number: str
    requester: Requester
    subject: str
    activity_name: str
    activity_date: date
    attachments: list[Attachment] = []


class Draft(Part):
    version: int
    files: list[Attachment]
    notes: str | None = None


class Assignment(Part):
    name: str
    role: str
    team: str | None = None


class CaseEvent(Contract):
    """Base of events about a case."""

    case_id: UUID = Field(description="the case; its events live in stream `<service>-<case_id>`")
    sop_id: str = Field(description="the SOP the case runs, e.g. `bdg-setda-010-2024`")
    sop_version: str = Field(description="the SOP version the case started under")


class StepCompleted(CaseEvent):
    """Base of events that complete a step."""

    step: int = Field(description="the SOP step this event completes")
    next_step: int | None = Field(description="the step the case goes to; null when it ends")
    next_service: str | None = Field(
        default=None,
        description="the service that owns `next_step` (absent from events stored before it"
        " was added): a consumer without this SOP installed still knows whether the case"
        " comes to it",
    )
    inputs: dict[str, str] = Field(
        default={}, description="a reference or note per required input (kelengkapan) id"
    )
    outputs: list[str] = Field(default=[], description="the step's output ids")


class StepOpened(CaseEvent):
    """A service took the case up at one of its steps (a hand-over or a rework)."""

    step: int = Field(description="the step the case is now waiting for")
    reason: Literal["handover", "rework"] = Field(
        description="`handover` from the previous service, `rework` after a rejection"
    )
    cause_event_id: UUID = Field(description="the event that handed the case over")
    case: CaseFile
    draft: Draft | None = None


# --- intake ---------------------------------------------------------------------------
class RequestReceived(StepCompleted):
    """Intake registered a request letter and opened a case (step 1 of both SOPs).

    Emitted by intake on `POST /cases` at the `receive-request` step: Bandung step 1 (the
    general administrator receives the recording request with its script), Tangerang step 1
    (the office administrator registers the agenda letter). Carries the case file.
    """

    TYPE = "prokopim.intake.request-received.v1"
    case: CaseFile


class DispositionGiven(StepCompleted):
    """The head of section gave a disposition on the request (step 2 of both SOPs).

    Emitted by intake on `POST /cases/{case_id}/disposition` at the `disposition` step:
    Bandung step 2, Tangerang step 2. Hands the case to scheduling (`next_step`).
    """

    TYPE = "prokopim.intake.disposition-given.v1"
    case: CaseFile
    instruction: str


# --- scheduling -------------------------------------------------------------------------
class SchedulingStepOpened(StepOpened):
    """Scheduling took a case up at one of its steps.

    Emitted by scheduling when it consumes a hand-over to a scheduling step (Bandung step 3
    after the disposition, Tangerang step 3). `cause_event_id` is the hand-over's event id.
    """

    TYPE = "prokopim.scheduling.step-opened.v1"
    AUDIENCE = "internal"


class ScheduleCoordinated(StepCompleted):
    """The recording schedule was agreed (Bandung step 3, `coordinate-schedule`).

    Emitted by scheduling on `POST /cases/{case_id}/schedule`.
    """

    TYPE = "prokopim.scheduling.schedule-coordinated.v1"
    scheduled_at: datetime
    location: str
    notes: str | None = None


class RequesterNotified(StepCompleted):
    """The requester was told the schedule (Bandung step 4, `notify-requester`).

    Emitted by scheduling on `POST /cases/{case_id}/notification`; standard time one working
    day, the only step measured in days.
    """

    TYPE = "prokopim.scheduling.requester-notified.v1"
    notification_id: UUID
    recipient: Requester
    channel: str
    message: str
    scheduled_at: datetime


class StaffAssigned(StepCompleted):
    """Staff were assigned to record or cover the activity (`assign-staff`).

    Emitted by scheduling on `POST /cases/{case_id}/assignments`: Bandung step 5, Tangerang
    step 3. Hands the case, with its file, to production.
    """

    TYPE = "prokopim.scheduling.staff-assigned.v1"
    case: CaseFile
    assignments: list[Assignment]
    scheduled_at: datetime | None = None


# --- production -------------------------------------------------------------------------
class ProductionStepOpened(StepOpened):
    """Production took a case up: a hand-over, or a rework after a rejection.

    Emitted by production when it consumes `StaffAssigned` (Bandung step 6, Tangerang step 4;
    `reason="handover"`) or a `DraftRejected` sending the case back to a production step
    (Bandung step 7, Tangerang step 4; `reason="rework"`, with the rejected `draft`).
    """

    TYPE = "prokopim.production.step-opened.v1"
    AUDIENCE = "internal"
    rejection_reason: str | None = Field(
        default=None, description="on a rework: why the reviewer sent the draft back"
    )
    rejected_by: str | None = Field(
        default=None, description="on a rework: the reviewer who sent the draft back"
    )


class EquipmentPrepared(CaseEvent):
    """The equipment checklist of a recording or coverage step was ticked.

    Emitted by production on `POST /cases/{case_id}/equipment` before recording (Bandung
    step 6) or covering (Tangerang step 4). Does not complete the step.
    """

    TYPE = "prokopim.production.equipment-prepared.v1"
    AUDIENCE = "internal"
    step: int
    checklist: dict[str, bool]


class RecordingMade(StepCompleted):
    """The raw recording was made (Bandung step 6, `record`).

    Emitted by production on `POST /cases/{case_id}/recording`; `files` are the raw material.
    """

    TYPE = "prokopim.production.recording-made.v1"
    files: list[Attachment]


class DraftProduced(StepCompleted):
    """A new draft version was produced and handed to review.

    Emitted by production on `POST /cases/{case_id}/drafts`: Bandung step 7 (`edit`),
    Tangerang step 4 (`cover`: press release, photos, video). Each rework is a new `draft`
    version.
    """

    TYPE = "prokopim.production.draft-produced.v1"
    case: CaseFile
    draft: Draft


# --- review -----------------------------------------------------------------------------
class ReviewStepOpened(StepOpened):
    """Review took a case up at one of its review levels.

    Emitted by review when it consumes `DraftProduced` (Bandung step 8, Tangerang step 5) or a
    `DraftRejected` at the second level sending the draft back to the first (Bandung 9 -> 8,
    Tangerang 6 -> 5; `reason="rework"`).
    """

    TYPE = "prokopim.review.step-opened.v1"
    AUDIENCE = "internal"


class DraftApproved(StepCompleted):
    """A reviewer approved the draft at one review level (`review`).

    Emitted by review on `POST /cases/{case_id}/decision` with verdict `approve`: Bandung
    steps 8 (level 1) and 9 (level 2), Tangerang steps 5 and 6. At the last level it hands the
    case to publishing.
    """

    TYPE = "prokopim.review.draft-approved.v1"
    case: CaseFile
    draft: Draft
    level: int
    reviewer: str
    note: str | None = None


class DraftRejected(StepCompleted):
    """A reviewer rejected the draft; `next_step` is where the case goes back.

    Emitted by review on `POST /cases/{case_id}/decision` with verdict `reject` and a
    `reason`: Bandung 8 -> 7 and 9 -> 8, Tangerang 5 -> 4 and 6 -> 5.
    """

    TYPE = "prokopim.review.draft-rejected.v1"
    case: CaseFile
    draft: Draft
    level: int
    reviewer: str
    reason: str


# --- publishing -------------------------------------------------------------------------
class PublishingStepOpened(StepOpened):
    """Publishing took a case up after its last approval.

    Emitted by publishing when it consumes the final `DraftApproved` (Bandung step 10,
    Tangerang step 7).
    """

    TYPE = "prokopim.publishing.step-opened.v1"
    AUDIENCE = "internal"


class RecordingHandedOver(StepCompleted):
    """The recording was handed to the requester; archiving is assigned.

    Emitted by publishing on `POST /cases/{case_id}/handover`: Bandung step 10 (`hand-over`),
    the last step (`next_step` is null). `archive_name` follows the SOP's records rule.
    """

    TYPE = "prokopim.publishing.recording-handed-over.v1"
    recipient: Requester
    draft_version: int
    archive_name: str
    archivist_role: str


class RecordingArchived(CaseEvent):
    """The archivist filed the handed-over recording.

    Emitted by publishing on `POST /cases/{case_id}/archive` after Bandung step 10, by the
    role the hand-over named (`archivist_role`). Does not complete a step.
    """

    TYPE = "prokopim.publishing.recording-archived.v1"
    step: int
    archive_name: str
    location: str


class NewsPublished(StepCompleted):
    """The approved coverage was published and emailed to the media outlets.

    Emitted by publishing on `POST /cases/{case_id}/publication`: Tangerang step 7
    (`publish`), the last step (`next_step` is null).
    """

    TYPE = "prokopim.publishing.news-published.v1"
    website_url: str
    emailed_outlets: list[UUID]
    draft_version: int
    failed_outlets: list[UUID] = Field(
        default=[], description="outlets whose mail server refused the press release for good"
    )


class OrderedOutlet(Part):
    outlet_id: UUID
    name: str
    email: EmailStr


class PublicationOrdered(CaseEvent):
    """Publishing was ordered: what goes to the city website and to which outlets.

    Emitted by publishing on `POST /cases/{case_id}/publication` (Tangerang step 7). Its own
    consumer carries the order out (one website post, one mail per outlet, each recorded in
    `publishing_deliveries`), then records `outlet-mailed` / `outlet-mail-failed` per outlet
    and `news-published`. The website call's `Idempotency-Key` is uuid5(this event's id,
    "website"); each mail's Message-ID is uuid5(this event's id, outlet id).
    """

    TYPE = "prokopim.publishing.publication-ordered.v1"
    AUDIENCE = "internal"
    step: int
    inputs: dict[str, str] = {}
    title: str
    body: str
    files: list[Attachment] = []
    activity_name: str
    activity_date: date
    outlets: list[OrderedOutlet] = []
    draft_version: int


class OutletMailed(CaseEvent):
    """One media outlet's mail server accepted the press release (once, with `message_id`)."""

    TYPE = "prokopim.publishing.outlet-mailed.v1"
    AUDIENCE = "internal"
    order_event_id: UUID
    outlet_id: UUID
    email: EmailStr
    message_id: str
    attempts: int


class OutletMailFailed(CaseEvent):
    """One media outlet's mail server refused the press release for good (e.g. 550), or it
    stayed unreachable for every allowed attempt; the other outlets are not mailed again."""

    TYPE = "prokopim.publishing.outlet-mail-failed.v1"
    AUDIENCE = "internal"
    order_event_id: UUID
    outlet_id: UUID
    email: EmailStr
    attempts: int
    error: str


class MediaOutlet(Part):
    name: str
    email: EmailStr
    active: bool = True


class MediaOutletRegistered(Contract):
    """A media outlet was added to the section's mailing list.

    Emitted by publishing on `POST /outlets` (stream `publishing-outlets`); not tied to a case.
    """

    TYPE = "prokopim.publishing.media-outlet-registered.v1"
    AUDIENCE = "internal"
    outlet_id: UUID
    name: str
    email: EmailStr


class MediaOutletUpdated(Contract):
    """A media outlet's name or email changed.

    Emitted by publishing on `PUT /outlets/{outlet_id}` (stream `publishing-outlets`).
    """

    TYPE = "prokopim.publishing.media-outlet-updated.v1"
    AUDIENCE = "internal"
    outlet_id: UUID
    name: str
    email: EmailStr


class MediaOutletDeactivated(Contract):
    """A media outlet no longer receives publications.

    Emitted by publishing on `POST /outlets/{outlet_id}/deactivate` (stream
    `publishing-outlets`).
    """

    TYPE = "prokopim.publishing.media-outlet-deactivated.v1"
    AUDIENCE = "internal"
    outlet_id: UUID


# --- mails to the requester (scheduling's invitation, publishing's hand-over notice) ----
class RequesterMailOutcome(CaseEvent):
    """How one mail to the requester, asked for by the stored event `cause_event_id`, ended.

    Each is sent once (a delivery record per effect); `message_id` is stable per cause.
    """

    AUDIENCE = "internal"
    cause_event_id: UUID
    email: EmailStr
    attempts: int
    message_id: str | None = None
    error: str | None = Field(default=None, description="why the mail failed for good")
    sequence: int | None = Field(
        default=None, description="the invitation's iCalendar SEQUENCE (0 first, +1 per change)"
    )


class InvitationMailed(RequesterMailOutcome):
    """The requester was mailed the schedule with an `.ics` invitation (Bandung step 4)."""

    TYPE = "prokopim.scheduling.invitation-mailed.v1"


class InvitationMailFailed(RequesterMailOutcome):
    """The requester's invitation could not be mailed (refused for good, or out of tries)."""

    TYPE = "prokopim.scheduling.invitation-mail-failed.v1"


class HandoverNoticeMailed(RequesterMailOutcome):
    """The requester was mailed the hand-over notice (Bandung's last step)."""

    TYPE = "prokopim.publishing.handover-notice-mailed.v1"


class HandoverNoticeMailFailed(RequesterMailOutcome):
    """The hand-over notice could not be mailed (refused for good, or out of tries)."""

    TYPE = "prokopim.publishing.handover-notice-mail-failed.v1"


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
        PublicationOrdered,
        OutletMailed,
        OutletMailFailed,
        InvitationMailed,
        InvitationMailFailed,
        HandoverNoticeMailed,
        HandoverNoticeMailFailed,
        MediaOutletRegistered,
        MediaOutletUpdated,
        MediaOutletDeactivated,
        SlaAtRisk,
        SlaBreached,
    )
}


def parse(event_type: str, data: dict[str, Any]) -> Contract:
    """Read an event's data into its contract model, ignoring fields this build does not know.

    KeyError for an unknown type. Building a contract (or `model_validate` without this
    context) refuses undeclared fields instead.
    """
    return CONTRACTS[event_type].model_validate(data, context={_READING: True})


def audience(event_type: str) -> Audience:
    """Return who an event type is for: `public` subscribers or prokopim `internal`ly."""
    return CONTRACTS[event_type].AUDIENCE


def service_of(event_type: str) -> str:
    """Return the service that publishes an event type (`prokopim.<service>.<name>.vN`)."""
    return event_type.split(".")[1]


# --- scheduling: resources, bookings and the leader's agenda (issue 15) -------------------
class CrewMemberRegistered(Contract):
    """A crew member was registered for an office's bookings.

    Emitted by scheduling on `POST /offices/{office}/crew` (stream
    `scheduling-resource-<resource_id>`); `roles` are the SOP roles the person can fill.
    """

    TYPE = "prokopim.scheduling.crew-member-registered.v1"
    resource_id: UUID
    office: str = Field(description="the office (the SOP's city, lower case), e.g. `bandung`")
    name: str
    roles: list[str]
    contact: str | None = None


class CrewMemberUpdated(Contract):
    """A crew member's name, roles or contact changed (the whole record, as it now is).

    Emitted by scheduling on `PUT /offices/{office}/crew/{resource_id}`.
    """

    TYPE = "prokopim.scheduling.crew-member-updated.v1"
    resource_id: UUID
    office: str
    name: str
    roles: list[str]
    contact: str | None = None


class EquipmentItemRegistered(Contract):
    """An equipment item was registered for an office's bookings.

    Emitted by scheduling on `POST /offices/{office}/equipment` (stream
    `scheduling-resource-<resource_id>`); `kind` is an equipment input id of the office's
    SOPs (e.g. `video-recorder`, `tripod`, `camera`).
    """

    TYPE = "prokopim.scheduling.equipment-item-registered.v1"
    resource_id: UUID
    office: str
    kind: str
    label: str
    condition: Literal["available", "in-repair"] = "available"


class EquipmentItemUpdated(Contract):
    """An equipment item's label or condition changed (the whole record, as it now is).

    Emitted by scheduling on `PUT /offices/{office}/equipment/{resource_id}`; an item
    `in-repair` cannot be booked.
    """

    TYPE = "prokopim.scheduling.equipment-item-updated.v1"
    resource_id: UUID
    office: str
    kind: str
    label: str
    condition: Literal["available", "in-repair"]


class Booking(BaseModel):
    """One person or item reserved for a case's activity window."""

    model_config = ConfigDict(frozen=True)
    booking_id: UUID = Field(description="stable per case and resource: the feeds' UID")
    resource_id: UUID
    resource_type: Literal["crew", "equipment"]
    label: str = Field(description="the person's name or the item's label")
    role: str | None = Field(default=None, description="the SOP role a crew member fills")
    starts_at: datetime = Field(description="the activity's start")
    ends_at: datetime = Field(description="the activity's end")
    reserved_from: datetime = Field(description="start minus the travel/set-up buffer")
    reserved_until: datetime = Field(description="end plus the travel/set-up buffer")
    sequence: int = Field(description="raised each time the booking changes (iCalendar SEQUENCE)")
    override_reason: str | None = Field(
        default=None, description="why the scheduler booked over a clash, if they did"
    )


class ResourcesBooked(CaseEvent):
    """People or equipment were reserved (or moved) for a case's activity window.

    Emitted by scheduling in the same append as the step that reserves them (Bandung steps 3
    and 5, Tangerang step 3) or a reschedule; lists only the bookings made or changed.
    """

    TYPE = "prokopim.scheduling.resources-booked.v1"
    bookings: list[Booking]
    location: str | None = None


class BookingsReleased(CaseEvent):
    """A case's reservations were released (the case was cancelled or its team changed).

    Emitted by scheduling on `POST /cases/{case_id}/cancel` and when an assignment drops a
    person or item reserved before.
    """

    TYPE = "prokopim.scheduling.bookings-released.v1"
    booking_ids: list[UUID]
    reason: str


class CaseRescheduled(CaseEvent):
    """A case's activity moved to a new window (and maybe venue); its bookings moved along.

    Emitted by scheduling on `POST /cases/{case_id}/reschedule`.
    """

    TYPE = "prokopim.scheduling.case-rescheduled.v1"
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    reason: str


class CaseCancelled(CaseEvent):
    """The case was cancelled: its bookings are released and its SLA clocks stop.

    Emitted by scheduling on `POST /cases/{case_id}/cancel`; the ledger closes the case's
    running step attempts at this instant (outcome `cancelled`).
    """

    TYPE = "prokopim.scheduling.case-cancelled.v1"
    reason: str


class AgendaEntry(BaseModel):
    """One case's place on the leader's agenda."""

    model_config = ConfigDict(frozen=True)
    case_id: UUID
    activity_name: str
    starts_at: datetime
    ends_at: datetime
    location: str | None = None
    tentative: bool = Field(description="only the activity's date is known (at intake)")


class AgendaOverlapFlagged(Contract):
    """Two cases' activities overlap for the same leader or at the same venue (a warning).

    Emitted by scheduling when a case is registered at intake (its activity date) and when
    it is scheduled or rescheduled (its window); nothing is blocked. Stream
    `scheduling-agenda-<case_id>` of the case that raised it, the first of `cases`.
    """

    TYPE = "prokopim.scheduling.agenda-overlap-flagged.v1"
    office: str
    basis: Literal["leader", "venue"]
    leader: str
    venue: str | None = None
    detected_at: Literal["intake", "scheduling"]
    cases: list[AgendaEntry] = Field(description="the case that raised it, then the other")


CONTRACTS.update(
    {
        cls.TYPE: cls
        for cls in (
            CrewMemberRegistered,
            CrewMemberUpdated,
            EquipmentItemRegistered,
            EquipmentItemUpdated,
            ResourcesBooked,
            BookingsReleased,
            CaseRescheduled,
            CaseCancelled,
            AgendaOverlapFlagged,
        )
    }
)
