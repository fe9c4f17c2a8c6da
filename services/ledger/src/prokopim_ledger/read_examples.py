"""Examples of the read API's answers, shown in its OpenAPI document (tests hold each to
the shape of a real answer)."""

from __future__ import annotations

from typing import Any

CASE = "0b6c7f5e-6f1e-4c61-9a53-0d5a2b7f9c11"
TITLE = {
    "id": "Penyusunan Bahan/Konten Media Sosial, Agenda Setting Komunikasi",
    "en": "Preparing social-media material and content; communication agenda setting",
}
ROLES = [
    {"id": "pengadministrasi-perkantoran", "name": "Pengadministrasi Perkantoran"},
    {"id": "kepala-bagian", "name": "Kepala Bagian Protokol dan Komunikasi Pimpinan"},
]
STEP_NAME = {
    "id": "Menerima dan memeriksa agenda kegiatan pimpinan",
    "en": "Receive and check the leader's agenda",
}
SOP_SUMMARY: dict[str, Any] = {
    "id": "tgr-58-2025",
    "version": "2025.1",
    "title": TITLE,
    "city": "Tangerang",
    "official_number": "58/…/2025",
    "steps": 7,
    "standard_minutes_total": 380,
    "standard_working_days_total": 0,
    "roles": ROLES,
}
SOPS_EXAMPLE = {"items": [SOP_SUMMARY]}
SOP_EXAMPLE = {
    **SOP_SUMMARY,
    "legal_basis": ["Peraturan Wali Kota Tangerang …"],
    "records_rule": "Naskah dinas disimpan sesuai tata naskah dinas",
    "steps": [
        {
            "number": 2,
            "name": STEP_NAME,
            "role": "kepala-bagian",
            "service": "intake",
            "kind": "disposition",
            "standard": {"minutes": 30, "working_days": None},
            "inputs": [{"id": "agenda", "name": "Agenda pimpinan"}],
            "outputs": [{"id": "disposition", "name": "Disposisi surat permohonan"}],
            "on_approve": 3,
            "on_reject": None,
            "archivist_role": None,
            "role_name": "Kepala Bagian Protokol dan Komunikasi Pimpinan",
            "standard_seconds": 1800.0,
        }
    ],
}
SLA = {
    "working_seconds": 1500.0,
    "standard_seconds": 1800.0,
    "used_share": 0.833,
    "status": "at-risk",
    "at_risk": True,
    "breached": False,
    "at_risk_at": "2025-05-05T08:32:30+07:00",
    "breach_at": "2025-05-05T08:40:00+07:00",
}
CASE_FIELDS = {
    "letter_number": "800/20250505/DISKOMINFO",
    "subject": "Permohonan liputan",
    "requester": "Dinas Komunikasi",
    "agency": "Diskominfo",
    "activity_name": "Peresmian Taman Kota",
    "activity_date": "2025-05-12",
    "registered_at": "2025-05-05T08:10:00+07:00",
}
WORKLIST_EXAMPLE = {
    "items": [
        {
            "case_id": CASE,
            "sop_id": "tgr-58-2025",
            "sop_version": "2025.1",
            "step": 2,
            "attempt": 1,
            "role": "kepala-bagian",
            "role_name": "Kepala Bagian Protokol dan Komunikasi Pimpinan",
            "assignees": [],
            "since": "2025-05-05T08:10:00+07:00",
            "step_name": STEP_NAME,
            "kind": "disposition",
            "service": "intake",
            **CASE_FIELDS,
            "sla": SLA,
        }
    ],
    "next": "/worklist?role=kepala-bagian&cursor=WyIyMDI1LTA1LTA1VDAxOjEwOjAwKzAwOjAwIiwi",
    "position": 1234,
}
SEARCH_EXAMPLE = {
    "items": [
        {
            "case_id": CASE,
            "sop_id": "tgr-58-2025",
            "sop_version": "2025.1",
            **CASE_FIELDS,
            "closed_at": None,
            "sla_status": "on-time",
            "awaiting_step": 2,
            "awaiting_role": "kepala-bagian",
        }
    ],
    "next": "/cases?activity=Taman&cursor=WyIyMDI1LTA1LTA1VDAxOjEwOjAwKzAwOjAwIiwi",
}
ATTEMPT = {
    "case_id": CASE,
    "sop_id": "tgr-58-2025",
    "sop_version": "2025.1",
    "step": 2,
    "attempt": 1,
    "role": "kepala-bagian",
    "assignees": [],
    "entered_at": "2025-05-05T01:10:00+00:00",
    "completed_at": None,
    "completed_by": None,
    "outcome": None,
    "reason": None,
    "running": True,
    "standard_seconds": 1800.0,
    "working_seconds": 1500.0,
    "used_share": 0.833,
    "status": "at-risk",
    "at_risk_at": "2025-05-05T01:32:30+00:00",
    "breach_at": "2025-05-05T01:40:00+00:00",
}
DONE = {
    **ATTEMPT,
    "step": 1,
    "role": "pengadministrasi-perkantoran",
    "entered_at": "2025-05-05T01:00:00+00:00",
    "completed_at": "2025-05-05T01:10:00+00:00",
    "completed_by": "siti",
    "outcome": "completed",
    "running": False,
    "standard_seconds": 3600.0,
    "working_seconds": 600.0,
    "used_share": 0.167,
    "status": "on-time",
    "at_risk_at": None,
    "breach_at": None,
}
TIMELINE_EXAMPLE = {
    "case_id": CASE,
    "sop_id": "tgr-58-2025",
    "sop_version": "2025.1",
    **CASE_FIELDS,
    "closed_at": None,
    "sla_status": "on-time",
    "awaiting": {
        **ATTEMPT,
        "step_name": STEP_NAME,
        "role_name": "Kepala Bagian Protokol dan Komunikasi Pimpinan",
        "kind": "disposition",
        "service": "intake",
    },
    "attempts": [DONE, ATTEMPT],
    "entries": [
        {
            "global_position": 13,
            "event_id": "f3001cee-05da-4467-b063-13fff9a01fe8",
            "occurred_at": "2025-05-05T01:10:00+00:00",
            "type": "prokopim.intake.request-received.v1",
            "stream_id": f"intake-{CASE}",
            "case_id": CASE,
            "sop_id": "tgr-58-2025",
            "sop_version": "2025.1",
            "step": 1,
            "step_name": "Menerima dan mengadministrasikan surat …",
            "actor_id": "siti",
            "actor_role": "pengadministrasi-perkantoran",
            "actor_name": "Siti",
            "inputs": [
                {"id": "request-letter", "name": "Surat permohonan", "reference": "ref://1"}
            ],
            "outputs": [{"id": "disposition-sheet", "name": "Lembar disposisi"}],
            "decision": None,
            "reason": None,
            "assignments": None,
            "data": {"case_id": CASE, "step": 1, "next_step": 2, "case": {"subject": "…"}},
        }
    ],
    "as_of": "2025-05-05T01:35:00+00:00",
}
POSITION_EXAMPLE = {"position": 1234}


def ok(example: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """Return an OpenAPI `responses` entry showing `example` as the 200 answer."""
    return {200: {"content": {"application/json": {"example": example}}}}
