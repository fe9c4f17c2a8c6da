"""Publishing's pure domain: the last SOP step of a case (hand-over or publication).

Bandung's step 10 hands the approved recording to the requester and names the staff role
that archives it; archiving is then recorded on its own. Tangerang's step 7 publishes the
approved coverage to the city website and emails it to the registered media outlets.
Archiving is split in two: `prepare_archive` checks every rule and says what to file, the
service files it, and `decide_archive` (checking again) records it. Publishing is an order
(`decide_order`) that publishing's consumer carries out, then records (`decide_outcome`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Contract,
    Draft,
    NewsPublished,
    OrderedOutlet,
    OutletMailed,
    OutletMailFailed,
    PublicationOrdered,
    PublishingStepOpened,
    RecordingArchived,
    RecordingHandedOver,
    StepCompleted,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import StepOutOfOrder, UnknownCase, WrongRole
from prokopim_kit.pipeline import CaseState as Case
from prokopim_kit.steps import guard_step
from prokopim_sop import Service, Sop, Step, StepKind

from .errors import AlreadyArchived, NoApprovedDraft

_MAX_SLUG = 80


@dataclass(frozen=True)
class CaseState(Case):
    """What publishing knows of one case."""

    service = Service.PUBLISHING
    case: CaseFile | None = None
    draft: Draft | None = None
    handover: RecordingHandedOver | None = None
    archive: RecordingArchived | None = None
    publication: NewsPublished | None = None
    order: PublicationOrdered | None = None


@dataclass(frozen=True)
class HandOver:
    """Hand the approved recording to the requester (Bandung step 10)."""

    inputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Publish:
    """Publish the approved coverage (Tangerang step 7); title/body default from the case."""

    inputs: Mapping[str, str] = field(default_factory=dict)
    title: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class PressRelease:
    """What goes to the city website and to the media outlets."""

    case_id: UUID
    title: str
    body: str
    files: tuple[Attachment, ...]
    activity_name: str
    activity_date: date


@dataclass(frozen=True)
class OrderPublication:
    """Order a `Publish`: the press release goes to the website and to these outlets."""

    order: Publish
    outlets: tuple[OrderedOutlet, ...]


@dataclass(frozen=True)
class Delivery:
    """How one outlet's mail ended: sent with `message_id`, or failed with `error`."""

    outlet: OrderedOutlet
    attempts: int
    message_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """Record what the website and the mail servers answered to the order `order_event_id`."""

    order_event_id: UUID
    website_url: str
    deliveries: tuple[Delivery, ...]


@dataclass(frozen=True)
class RecordArchive:
    """Record where the archivist filed the handed-over recording."""

    location: str


@dataclass(frozen=True)
class ArchiveEntry:
    """The record the archivist files: named after the activity's name and date."""

    archive_name: str
    case_id: UUID
    sop_id: str
    sop_version: str
    case: CaseFile
    draft: Draft


def archive_name(activity_name: str, activity_date: date) -> str:
    """Name a record after its activity's date and name: `2026-03-14_peresmian-taman-kota`."""
    ascii_name = (
        unicodedata.normalize("NFKD", activity_name).encode("ascii", "ignore").decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    slug = slug[:_MAX_SLUG].rstrip("-") or "kegiatan"
    return f"{activity_date.isoformat()}_{slug}"


def evolve(state: CaseState, event: Contract) -> CaseState:
    """Apply one of this case stream's events."""
    if isinstance(event, PublishingStepOpened):
        return replace(
            state,
            case_id=event.case_id,
            sop_id=event.sop_id,
            sop_version=event.sop_version,
            awaiting_step=event.step,
            case=event.case,
            draft=event.draft or state.draft,
        )
    if isinstance(event, RecordingHandedOver):
        return replace(state, awaiting_step=event.next_step, handover=event)
    if isinstance(event, RecordingArchived):
        return replace(state, archive=event)
    if isinstance(event, NewsPublished):
        return replace(state, awaiting_step=event.next_step, publication=event)
    if isinstance(event, PublicationOrdered):
        return replace(state, order=event)
    return state


def decide_open(
    state: CaseState, sop: Sop, cause: StepCompleted, cause_event_id: UUID
) -> list[PublishingStepOpened]:
    """Take the case up when another service completed the step before one of ours."""
    if cause.next_step is None or sop.step(cause.next_step).service is not Service.PUBLISHING:
        return []
    case = getattr(cause, "case", None)
    draft = getattr(cause, "draft", None)
    if not isinstance(case, CaseFile):
        return []  # only a hand-over carrying the case file can be worked from
    if state.handover is not None or state.publication is not None:
        return []  # the case already went through publishing's step
    return [
        PublishingStepOpened(
            case_id=cause.case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=cause.next_step,
            reason="handover",
            cause_event_id=cause_event_id,
            case=case,
            draft=draft if isinstance(draft, Draft) else None,
        )
    ]


def decide_hand_over(
    state: CaseState, sop: Sop, actor: Actor, command: HandOver
) -> list[RecordingHandedOver]:
    """Hand the recording over and name the role that archives it."""
    case_id, case, _ = _known(state)
    step = guard_step(sop, state.awaiting_step, [StepKind.HAND_OVER], actor.role, command.inputs)
    draft = _approved_draft(state)
    return [
        RecordingHandedOver(
            case_id=case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=step.number,
            next_step=step.on_approve,
            inputs=dict(command.inputs),
            outputs=_outputs(step),
            recipient=case.requester,
            draft_version=draft.version,
            archive_name=archive_name(case.activity_name, case.activity_date),
            archivist_role=step.archivist_role or step.role,
        )
    ]


def prepare_archive(state: CaseState, role: str) -> ArchiveEntry:
    """Check the archivist may file the handed-over recording; return what to file."""
    case_id, case, _ = _known(state)
    handover = state.handover
    if handover is None:
        raise StepOutOfOrder("archive", state.awaiting_step)
    if state.archive is not None:
        raise AlreadyArchived(case_id, state.archive.archive_name)
    if role != handover.archivist_role:
        raise WrongRole(handover.step, handover.archivist_role, role)
    assert state.sop_id is not None and state.sop_version is not None
    return ArchiveEntry(
        archive_name=handover.archive_name,
        case_id=case_id,
        sop_id=state.sop_id,
        sop_version=state.sop_version,
        case=case,
        draft=_approved_draft(state),
    )


def decide_archive(
    state: CaseState, sop: Sop, actor: Actor, command: RecordArchive
) -> list[RecordingArchived]:
    """Record that the archivist filed the recording where the command says."""
    entry = prepare_archive(state, actor.role)
    assert state.handover is not None
    return [
        RecordingArchived(
            case_id=entry.case_id,
            sop_id=entry.sop_id,
            sop_version=entry.sop_version,
            step=state.handover.step,
            archive_name=entry.archive_name,
            location=command.location,
        )
    ]


def prepare_publication(state: CaseState, sop: Sop, role: str, command: Publish) -> PressRelease:
    """Check the publish step's rules; return the press release to send out."""
    case_id, case, _ = _known(state)
    guard_step(sop, state.awaiting_step, [StepKind.PUBLISH], role, command.inputs)
    draft = _approved_draft(state)
    return PressRelease(
        case_id=case_id,
        title=_text(command.title) or case.activity_name,
        body=_text(command.body) or _text(draft.notes) or case.subject,
        files=tuple(draft.files),
        activity_name=case.activity_name,
        activity_date=case.activity_date,
    )


def decide_order(
    state: CaseState, sop: Sop, actor: Actor, command: OrderPublication
) -> list[PublicationOrdered]:
    """Record the order to publish; publishing's consumer then carries it out once."""
    release = prepare_publication(state, sop, actor.role, command.order)
    if state.order is not None:
        raise StepOutOfOrder("publish", state.awaiting_step)  # the service answers the first
    assert state.sop_id is not None and state.sop_version is not None
    assert state.awaiting_step is not None  # prepare_publication checked it
    return [
        PublicationOrdered(
            case_id=release.case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=state.awaiting_step,
            inputs=dict(command.order.inputs),
            title=release.title,
            body=release.body,
            files=list(release.files),
            activity_name=release.activity_name,
            activity_date=release.activity_date,
            outlets=list(command.outlets),
            draft_version=_approved_draft(state).version,
        )
    ]


def release_of(order: PublicationOrdered) -> PressRelease:
    """The press release an order sends out."""
    return PressRelease(
        case_id=order.case_id,
        title=order.title,
        body=order.body,
        files=tuple(order.files),
        activity_name=order.activity_name,
        activity_date=order.activity_date,
    )


def decide_outcome(
    state: CaseState, sop: Sop, actor: Actor, command: RecordOutcome
) -> list[Contract]:
    """Record each outlet's delivery and complete the publish step (once per order)."""
    order = state.order
    if order is None or state.publication is not None:
        return []
    head = {"case_id": order.case_id, "sop_id": order.sop_id, "sop_version": order.sop_version}
    events: list[Contract] = []
    for delivery in command.deliveries:
        outlet = delivery.outlet
        if delivery.message_id is not None:
            events.append(
                OutletMailed(
                    **head,
                    order_event_id=command.order_event_id,
                    outlet_id=outlet.outlet_id,
                    email=outlet.email,
                    message_id=delivery.message_id,
                    attempts=delivery.attempts,
                )
            )
        else:
            events.append(
                OutletMailFailed(
                    **head,
                    order_event_id=command.order_event_id,
                    outlet_id=outlet.outlet_id,
                    email=outlet.email,
                    attempts=delivery.attempts,
                    error=delivery.error or "unknown",
                )
            )
    step = sop.step(order.step)
    events.append(
        NewsPublished(
            **head,
            step=order.step,
            next_step=step.on_approve,
            inputs=dict(order.inputs),
            outputs=_outputs(step),
            website_url=command.website_url,
            emailed_outlets=[d.outlet.outlet_id for d in command.deliveries if d.message_id],
            failed_outlets=[d.outlet.outlet_id for d in command.deliveries if not d.message_id],
            draft_version=order.draft_version,
        )
    )
    return events


def _known(state: CaseState) -> tuple[UUID, CaseFile, Draft | None]:
    if state.case_id is None or state.case is None:
        raise UnknownCase(state.case_id)
    return state.case_id, state.case, state.draft


def _approved_draft(state: CaseState) -> Draft:
    if state.draft is None:
        raise NoApprovedDraft(state.case_id)
    return state.draft


def _outputs(step: Step) -> list[str]:
    return [item.id for item in step.outputs]


def _text(value: str | None) -> str:
    return value.strip() if value else ""
