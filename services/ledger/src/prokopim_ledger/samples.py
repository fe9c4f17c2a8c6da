"""Synthetic cases shaped like the services' real events, for benchmarks and tests.

A case walks its SOP from step 1 to the end as the five services would record it: the same
event types, streams (`<service>-<case_id>`), step/next_step links, hand-over events where a
service takes the case up, and review rejections that send it back (rework). Each step
takes a random share of its standard in working time, so some run late.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from prokopim_events.envelope import Actor, NewEvent
from prokopim_events.store import EventStore
from prokopim_sop import Sop, StepKind
from prokopim_sop.calendar import WorkingCalendar

from .sla import standard_seconds

Planned = tuple[str, NewEvent]  # (stream, event)
_PREFIX = "prokopim"


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class _Case:
    def __init__(self, sop: Sop, rng: random.Random, start: datetime) -> None:
        self.sop, self.rng, self.now = sop, rng, start
        self.case_id = _uuid(rng)
        self.events: list[Planned] = []
        self.case_file = {
            "letter_number": f"{rng.randint(1, 999):03d}/PRK/{start.year}",
            "requester": {"name": "Dinas Kominfo", "agency": "Diskominfo"},
            "subject": "Permohonan peliputan",
            "activity_name": f"Kegiatan {rng.randint(1, 9999)}",
            "activity_date": (start + timedelta(days=7)).date().isoformat(),
            "attachments": [{"kind": "letter", "ref": "ref://surat.pdf"}],
        }
        self.draft_version = 0

    def add(self, service: str, name: str, role: str, data: dict[str, Any]) -> uuid.UUID:
        event_id = _uuid(self.rng)
        body = {"case_id": str(self.case_id), "sop_id": self.sop.id}
        body["sop_version"] = self.sop.version
        body.update(data)
        who = service if role == "system" else f"{role}-{self.rng.randint(1, 3)}"
        actor = Actor(id=who, role=role)
        event = NewEvent(
            event_id=event_id,
            type=f"{_PREFIX}.{service}.{name}.v1",
            data=body,
            occurred_at=self.now,
            actor=actor,
        )
        self.events.append((f"{service}-{self.case_id}", event))
        self.now += timedelta(seconds=1)
        return event_id

    def draft(self) -> dict[str, Any]:
        return {"version": self.draft_version, "files": [{"kind": "video", "ref": "ref://d.mp4"}]}


def sample_case(
    sop: Sop,
    rng: random.Random,
    start: datetime,
    calendar: WorkingCalendar,
    *,
    reject_rate: float = 0.25,
    late_rate: float = 0.1,
) -> tuple[uuid.UUID, list[Planned]]:
    """Return a case id and its events in the order the services would append them."""
    case = _Case(sop, rng, start)
    step_no: int | None = 1
    rejections = 0
    previous_service: str | None = None
    cause: uuid.UUID | None = None
    reason = "handover"
    while step_no is not None:
        step = sop.step(step_no)
        service = step.service.value
        if previous_service is not None and service != previous_service and cause is not None:
            opened = {"step": step.number, "reason": reason, "cause_event_id": str(cause)}
            case.add(service, "step-opened", "system", {**opened, "case": case.case_file})
        share = rng.uniform(1.0, 1.6) if rng.random() < late_rate else rng.uniform(0.1, 0.95)
        seconds = share * standard_seconds(sop, step.number, calendar)
        case.now = calendar.after_working(case.now, seconds) if step_no > 1 else case.now
        completed = {
            "step": step.number,
            "next_step": step.on_approve,
            "inputs": {item.id: f"ref://{item.id}" for item in step.inputs},
            "outputs": [item.id for item in step.outputs],
        }
        next_no = step.on_approve
        reason = "handover"
        kind, role = step.kind, step.role
        if kind is StepKind.REVIEW:
            level = 1 + [s.number for s in sop.steps if s.kind is StepKind.REVIEW].index(step_no)
            review = {"case": case.case_file, "draft": case.draft(), "level": level}
            review["reviewer"] = role
            if rejections < 2 and rng.random() < reject_rate:
                rejections += 1
                next_no, reason = step.on_reject, "rework"
                review["reason"] = rng.choice(["Gambar kurang jelas", "Naskah salah", "Durasi"])
                completed["next_step"] = next_no
                cause = case.add(service, "draft-rejected", role, {**completed, **review})
            else:
                cause = case.add(service, "draft-approved", role, {**completed, **review})
        else:
            cause = _complete(case, kind, role, service, completed)
        previous_service = service
        step_no = next_no
    return case.case_id, case.events


def _complete(
    case: _Case, kind: StepKind, role: str, service: str, completed: dict[str, Any]
) -> uuid.UUID:
    requester = case.case_file["requester"]
    when = (case.now + timedelta(days=3)).isoformat()
    if kind is StepKind.RECEIVE_REQUEST:
        return case.add(service, "request-received", role, {**completed, "case": case.case_file})
    if kind is StepKind.DISPOSITION:
        data = {**completed, "case": case.case_file, "instruction": "Tindak lanjuti"}
        return case.add(service, "disposition-given", role, data)
    if kind is StepKind.COORDINATE_SCHEDULE:
        data = {**completed, "scheduled_at": when, "location": "Balai Kota"}
        return case.add(service, "schedule-coordinated", role, data)
    if kind is StepKind.NOTIFY_REQUESTER:
        notice = {"notification_id": str(_uuid(case.rng)), "recipient": requester}
        notice |= {"channel": "email", "message": "Jadwal", "scheduled_at": when}
        return case.add(service, "requester-notified", role, {**completed, **notice})
    if kind is StepKind.ASSIGN_STAFF:
        # staff in the role of the step they are assigned to (the next one), as an office does
        crew_role = case.sop.step(completed["next_step"]).role
        staff = [{"name": "Budi", "role": crew_role, "team": "A"}]
        data = {**completed, "case": case.case_file, "assignments": staff}
        return case.add(service, "staff-assigned", role, data)
    if kind in (StepKind.RECORD, StepKind.COVER) and case.draft_version == 0:
        checklist = {"step": completed["step"], "checklist": {"camera": True}}
        case.add(service, "equipment-prepared", role, checklist)
    if kind is StepKind.RECORD:
        files = [{"kind": "video", "ref": "ref://raw.mp4"}]
        return case.add(service, "recording-made", role, {**completed, "files": files})
    if kind in (StepKind.EDIT, StepKind.COVER):
        case.draft_version += 1
        data = {**completed, "case": case.case_file, "draft": case.draft()}
        return case.add(service, "draft-produced", role, data)
    if kind is StepKind.HAND_OVER:
        archive = f"{case.case_file['activity_name']} {case.case_file['activity_date']}"
        data = {**completed, "recipient": requester, "draft_version": case.draft_version}
        data |= {"archive_name": archive, "archivist_role": "pengadministrasi-umum"}
        handed = case.add(service, "recording-handed-over", role, data)
        stored = {"step": completed["step"], "archive_name": archive, "location": "nas://arsip"}
        case.add(service, "recording-archived", "pengadministrasi-umum", stored)
        return handed
    data = {**completed, "website_url": "https://kota.example/berita/1", "emailed_outlets": []}
    return case.add(service, "news-published", role, {**data, "draft_version": case.draft_version})


def stream_batches(events: list[Planned]) -> list[tuple[str, list[NewEvent]]]:
    """Group a case's events into runs of one stream, in order: one append each."""
    batches: list[tuple[str, list[NewEvent]]] = []
    for stream, event in events:
        if batches and batches[-1][0] == stream:
            batches[-1][1].append(event)
        else:
            batches.append((stream, [event]))
    return batches


async def append_case(store: EventStore, events: list[Planned]) -> int:
    """Append a fresh case's events as the services would, in order; return how many."""
    versions: dict[str, int] = {}
    for stream, batch in stream_batches(events):
        version = versions.get(stream, 0)
        await store.append(stream, version, batch)
        versions[stream] = version + len(batch)
    return len(events)
