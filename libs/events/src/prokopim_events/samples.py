"""Sample events for the catalog and the AsyncAPI document: one per published type.

The samples follow two cases through their SOPs (a Bandung recording and a Tangerang
coverage), with fixed ids and times so the generated documents are reproducible. A type
with no hand-written sample gets one synthesised from its JSON Schema, so a new contract
never stops the documents from being regenerated.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from .contracts import CONTRACTS, service_of
from .envelope import Actor, StoredEvent

BANDUNG = {"case_id": "0b7a3c1e-5f2d-4e8a-9c61-2d4f8e1a7b30", "sop_id": "bdg-setda-010-2024"}
BANDUNG |= {"sop_version": "2024.1"}
TANGERANG = {"case_id": "6c1d9e42-8a3b-4f7c-b5e0-91a2c3d4e5f6", "sop_id": "tgr-58-2025"}
TANGERANG |= {"sop_version": "2025.1"}
OUTLET_ID = "3f9b2a6d-1c4e-4d7a-8e5b-7a6c5d4e3f21"
_CAUSE = "9d2e7f10-3b4c-4a5d-8e6f-7a8b9c0d1e2f"
_REQUESTER = {"name": "Dinas Pariwisata", "agency": "Disbudpar Kota Bandung"}
_CASE = {
    "letter_number": "800/1234-Disbudpar/2025",
    "requester": _REQUESTER | {"email": "humas@disbudpar.example.go.id", "phone": None},
    "subject": "Rekaman video sambutan Wali Kota untuk Festival Asia Afrika",
    "activity_name": "Festival Asia Afrika",
    "activity_date": "2025-04-18",
    "attachments": [
        {"kind": "letter", "ref": "dms://surat/800-1234", "name": "Surat permohonan"},
        {"kind": "script", "ref": "dms://naskah/800-1234", "name": "Naskah sambutan"},
    ],
}
_DRAFT = {
    "version": 1,
    "files": [{"kind": "video", "ref": "s3://prokopim/drafts/faa-v1.mp4", "name": None}],
    "notes": "Durasi 2 menit 30 detik",
}
_LETTER = {"request-letter": "dms://surat/800-1234", "script": "dms://naskah/800-1234"}
_WITH_DISPOSITION = _LETTER | {"disposition-sheet": "dms://disposisi/800-1234"}
_SCHEDULED = "2025-04-10T09:00:00+07:00"
_SLA = {"step": 7, "attempt": 1, "role": "penata-liputan", "standard_seconds": 3600}
_SLA |= {"assignees": [{"name": "Asep Sunandar", "role": "penata-liputan", "team": None}]}
_SLA |= {"entered_at": "2025-04-07T02:22:30+00:00"}

_DATA: dict[str, dict[str, Any]] = {
    "prokopim.intake.request-received.v1": BANDUNG
    | {"step": 1, "next_step": 2, "inputs": _LETTER, "outputs": list(_LETTER), "case": _CASE},
    "prokopim.intake.disposition-given.v1": BANDUNG
    | {"step": 2, "next_step": 3, "inputs": _WITH_DISPOSITION, "outputs": ["disposition"]}
    | {"case": _CASE, "instruction": "Ka. Tim Dokpim: koordinasikan jadwal rekaman"},
    "prokopim.scheduling.step-opened.v1": BANDUNG
    | {"step": 3, "reason": "handover", "cause_event_id": _CAUSE, "case": _CASE, "draft": None},
    "prokopim.scheduling.schedule-coordinated.v1": BANDUNG
    | {"step": 3, "next_step": 4, "inputs": _WITH_DISPOSITION, "outputs": []}
    | {"scheduled_at": _SCHEDULED, "location": "Pendopo Kota Bandung", "notes": None},
    "prokopim.scheduling.requester-notified.v1": BANDUNG
    | {"step": 4, "next_step": 5, "inputs": _WITH_DISPOSITION, "outputs": ["schedule"]}
    | {"notification_id": "5e4d3c2b-1a09-4f8e-a7d6-c5b4a3928170", "channel": "email"}
    | {"recipient": _CASE["requester"], "scheduled_at": _SCHEDULED}
    | {"message": "Rekaman dijadwalkan 10 April 2025 pukul 09.00 di Pendopo"},
    "prokopim.scheduling.staff-assigned.v1": BANDUNG
    | {"step": 5, "next_step": 6, "inputs": {"schedule": "jadwal 10/04"}}
    | {"outputs": ["schedule"], "case": _CASE, "scheduled_at": _SCHEDULED}
    | {"assignments": [{"name": "Asep Sunandar", "role": "penata-liputan", "team": "Dokpim"}]},
    "prokopim.production.step-opened.v1": BANDUNG
    | {"step": 6, "reason": "handover", "cause_event_id": _CAUSE, "case": _CASE, "draft": None},
    "prokopim.production.equipment-prepared.v1": BANDUNG
    | {"step": 6, "checklist": {"video-recorder": True, "tripod": True, "mic": True}},
    "prokopim.production.recording-made.v1": BANDUNG
    | {"step": 6, "next_step": 7, "inputs": {"video-recorder": "ok"}, "outputs": ["raw-recording"]}
    | {"files": [{"kind": "video", "ref": "s3://prokopim/raw/faa.mov", "name": None}]},
    "prokopim.production.draft-produced.v1": BANDUNG
    | {"step": 7, "next_step": 8, "inputs": {"computer": "ok"}, "outputs": ["draft-recording"]}
    | {"case": _CASE, "draft": _DRAFT},
    "prokopim.review.step-opened.v1": BANDUNG
    | {"step": 8, "reason": "handover", "cause_event_id": _CAUSE, "case": _CASE}
    | {"draft": _DRAFT},
    "prokopim.review.draft-approved.v1": BANDUNG
    | {"step": 9, "next_step": 10, "inputs": {"initials": "KB"}, "outputs": ["recording"]}
    | {"case": _CASE, "draft": _DRAFT, "level": 2, "reviewer": "ka-bagian-1", "note": None},
    "prokopim.review.draft-rejected.v1": BANDUNG
    | {"step": 8, "next_step": 7, "inputs": {"initials": "KT"}, "outputs": []}
    | {"case": _CASE, "draft": _DRAFT, "level": 1, "reviewer": "koordinator-kpp-1"}
    | {"reason": "Logo kota belum tampil di awal video"},
    "prokopim.publishing.step-opened.v1": BANDUNG
    | {"step": 10, "reason": "handover", "cause_event_id": _CAUSE, "case": _CASE}
    | {"draft": _DRAFT},
    "prokopim.publishing.recording-handed-over.v1": BANDUNG
    | {
        "step": 10,
        "next_step": None,
        "inputs": {"computer": "ok", "network": "ok"},
        "outputs": ["recording"],
    }
    | {"recipient": _CASE["requester"], "draft_version": 1}
    | {"archive_name": "Festival Asia Afrika 2025-04-18"}
    | {"archivist_role": "pengadministrasi-umum"},
    "prokopim.publishing.recording-archived.v1": BANDUNG
    | {"step": 10, "archive_name": "Festival Asia Afrika 2025-04-18"}
    | {"location": "nas://arsip/2025/04/Festival Asia Afrika 2025-04-18"},
    "prokopim.publishing.news-published.v1": TANGERANG
    | {"step": 7, "next_step": None, "inputs": {"press-release": "ok", "photos": "ok"}}
    | {"outputs": ["press-release", "photos"], "draft_version": 2}
    | {"website_url": "https://tangerangkota.example.go.id/berita/rapat-paripurna"}
    | {"emailed_outlets": [OUTLET_ID]},
    "prokopim.publishing.media-outlet-registered.v1": {"outlet_id": OUTLET_ID}
    | {"name": "Tangerang Ekspres", "email": "redaksi@tangerangekspres.example.com"},
    "prokopim.publishing.media-outlet-updated.v1": {"outlet_id": OUTLET_ID}
    | {"name": "Tangerang Ekspres", "email": "newsroom@tangerangekspres.example.com"},
    "prokopim.publishing.media-outlet-deactivated.v1": {"outlet_id": OUTLET_ID},
    "prokopim.sla.at-risk.v1": BANDUNG
    | _SLA
    | {"threshold": 0.75}
    | {"crossed_at": "2025-04-07T03:07:30+00:00"},
    "prokopim.sla.breached.v1": BANDUNG
    | _SLA
    | {"threshold": 1.0}
    | {"crossed_at": "2025-04-07T03:22:30+00:00"},
}
_RINA = Actor(id="user-17", role="pengadministrasi-umum", name="Rina")
_DEDI = Actor(id="user-42", role="ka-bagian", name="Dedi")
_SARI = Actor(id="user-23", role="ka-tim-dokpim", name="Sari")
_YUSUF = Actor(id="user-31", role="koordinator-kpp", name="Yusuf")
_ASEP = Actor(id="user-56", role="penata-liputan", name="Asep")
_ACTORS = {
    "intake.request-received": _RINA,
    "intake.disposition-given": _DEDI,
    "scheduling.schedule-coordinated": _SARI,
    "scheduling.requester-notified": _YUSUF,
    "scheduling.staff-assigned": _SARI,
    "production.equipment-prepared": _ASEP,
    "production.recording-made": _ASEP,
    "production.draft-produced": _ASEP,
    "review.draft-approved": _DEDI,
    "review.draft-rejected": _YUSUF,
    "publishing.recording-handed-over": _DEDI,
    "publishing.recording-archived": _RINA,
    "publishing.news-published": Actor(id="user-64", role="tim-liputan", name="Fajar"),
}
PUBLISHER = {"sla": "ledger"}  # the service publishing a type, where its name differs
_EPOCH = datetime(2025, 4, 7, 1, 0, tzinfo=UTC)  # 08:00 in Jakarta
_SAMPLES_NS = UUID("6f1c0f7e-2b1d-4c55-9a37-1d0f6c2b8e90")


def sample_data(event_type: str) -> dict[str, Any]:
    """Return the sample `data` of a type, as published (canonical JSON of its contract)."""
    contract = CONTRACTS[event_type]
    data = _DATA.get(event_type) or synthesise(contract.model_json_schema())
    return contract.model_validate(data).model_dump(mode="json")


def sample_event(event_type: str) -> StoredEvent:
    """Return a sample stored event of a type, with fixed ids, positions and times."""
    data = sample_data(event_type)
    position = list(CONTRACTS).index(event_type) + 1
    service = PUBLISHER.get(service_of(event_type), service_of(event_type))
    stream = f"{service}-{data['case_id']}" if "case_id" in data else f"{service}-outlets"
    name = event_type.removeprefix("prokopim.").rsplit(".", 1)[0]
    actor = _ACTORS.get(name, Actor(id=service, role="system"))
    occurred = _EPOCH + timedelta(minutes=7 * position)
    return StoredEvent(
        event_id=uuid5(_SAMPLES_NS, event_type),
        stream_id=stream,
        stream_version=1,
        global_position=position,
        type=event_type,
        occurred_at=occurred,
        recorded_at=occurred + timedelta(milliseconds=12),
        actor=actor,
        correlation_id=_correlation(data, stream),
        causation_id=UUID(_CAUSE) if "cause_event_id" in data else None,
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        data=data,
    )


def _correlation(data: dict[str, Any], stream: str) -> UUID:
    """Every event of the Bandung case carries its first event's id, as the services do."""
    if data.get("case_id") == BANDUNG["case_id"]:
        return uuid5(_SAMPLES_NS, "prokopim.intake.request-received.v1")
    return uuid5(_SAMPLES_NS, stream)


def synthesise(schema: dict[str, Any]) -> Any:
    """Return a value matching a pydantic JSON Schema (every property filled in)."""
    definitions = schema.get("$defs", {})

    def value(node: dict[str, Any]) -> Any:
        if "$ref" in node:
            return value(definitions[node["$ref"].rsplit("/", 1)[-1]])
        if "const" in node:
            return node["const"]
        if "enum" in node:
            return node["enum"][0]
        for key in ("anyOf", "oneOf", "allOf"):
            if key in node:
                branches = [b for b in node[key] if b.get("type") != "null"]
                return value(branches[0]) if branches else None
        kind = node.get("type", "object")
        if kind == "object":
            if "properties" in node:
                return {name: value(prop) for name, prop in node["properties"].items()}
            extra = node.get("additionalProperties")
            return {"key": value(extra)} if isinstance(extra, dict) else {}
        if kind == "array":
            return [value(node.get("items", {}))]
        return _SCALARS[kind].get(node.get("format"), _SCALARS[kind][None])

    return value(schema)


_SCALARS: dict[str, dict[str | None, Any]] = {
    "string": {
        None: "text",
        "uuid": "00000000-0000-4000-8000-000000000001",
        "date-time": _EPOCH.isoformat(),
        "date": _EPOCH.date().isoformat(),
        "email": "someone@example.org",
        "duration": "PT10M",
    },
    "integer": {None: 1},
    "number": {None: 1.5},
    "boolean": {None: True},
    "null": {None: None},
}
