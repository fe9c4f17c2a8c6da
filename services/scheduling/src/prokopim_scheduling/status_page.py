"""The requester's status page: milestones and expected dates, in Bahasa Indonesia.

The link is `/status/<case_id>/<token>` (`prokopim_kit.status_links`: unguessable, nothing
to store, and whoever sends the requester a mail writes it). The page shows which milestones
the case passed and when, the activity's schedule, and when each step still to come is
expected (the SOP's standard times end to end in the office's working time,
`prokopim_sop.due`); never who worked on it.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from html import escape
from uuid import UUID

from asyncpg import Record
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit import status_links
from prokopim_kit.errors import CommandRejected
from prokopim_kit.office_calendar import CalendarSettings
from prokopim_kit.runtime import Runtime
from prokopim_kit.status_links import link_key, status_token
from prokopim_sop import Sop, StepKind, UnknownSop
from prokopim_sop.due import due_dates

from .commands import WIB

MILESTONES = {
    "prokopim.intake.request-received.v1": "Permohonan diterima",
    "prokopim.intake.disposition-given.v1": "Disposisi pimpinan diberikan",
    "prokopim.scheduling.schedule-coordinated.v1": "Jadwal dikoordinasikan",
    "prokopim.scheduling.requester-notified.v1": "Jadwal disampaikan kepada pemohon",
    "prokopim.scheduling.staff-assigned.v1": "Petugas ditugaskan",
    "prokopim.scheduling.case-rescheduled.v1": "Jadwal diubah",
    "prokopim.production.recording-made.v1": "Perekaman dilaksanakan",
    "prokopim.production.draft-produced.v1": "Hasil disusun",
    "prokopim.review.draft-rejected.v1": "Hasil diperbaiki",
    "prokopim.review.draft-approved.v1": "Hasil diperiksa dan disetujui",
    "prokopim.publishing.recording-handed-over.v1": "Rekaman diserahkan kepada pemohon",
    "prokopim.publishing.news-published.v1": "Berita diterbitkan",
    "prokopim.scheduling.case-cancelled.v1": "Permohonan dibatalkan",
}
# What each kind of step is called for the requester (the SOP's own names are the office's).
STEP_NAMES = {
    StepKind.RECEIVE_REQUEST: "Penerimaan permohonan",
    StepKind.DISPOSITION: "Disposisi pimpinan",
    StepKind.COORDINATE_SCHEDULE: "Koordinasi jadwal",
    StepKind.NOTIFY_REQUESTER: "Penyampaian jadwal kepada pemohon",
    StepKind.ASSIGN_STAFF: "Penugasan petugas",
    StepKind.RECORD: "Perekaman",
    StepKind.EDIT: "Penyuntingan hasil rekaman",
    StepKind.COVER: "Peliputan kegiatan",
    StepKind.REVIEW: "Pemeriksaan hasil",
    StepKind.HAND_OVER: "Penyerahan rekaman kepada pemohon",
    StepKind.PUBLISH: "Penerbitan berita",
}
MONTHS = "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember"


class UnknownStatusPage(CommandRejected):
    status = 404
    code = "unknown_status_page"

    def __init__(self) -> None:
        super().__init__("no such status page")


def _key(runtime: Runtime) -> bytes:
    key = link_key(runtime.settings)
    if key is None:
        raise UnknownStatusPage()  # RS256 installations must set STATUS_LINK_SECRET
    return key


def status_path(runtime: Runtime, case_id: UUID) -> str:
    """Return the path of a case's status page."""
    return status_links.status_path(_key(runtime), case_id)


async def record(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Note a milestone of a case as the consumer sees it pass (with the step it completed
    and the step it leads to, which the expected dates start from)."""
    data = event.data
    if event.type in MILESTONES and "case_id" in data:
        await conn.execute(
            "INSERT INTO scheduling_milestones"
            " (case_id, global_position, type, occurred_at, sop_id, sop_version, step, next_step)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            UUID(str(data["case_id"])),
            event.global_position,
            event.type,
            event.occurred_at,
            _text(data.get("sop_id")),
            _text(data.get("sop_version")),
            _number(data.get("step")) if "next_step" in data else None,
            _number(data.get("next_step")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def tanggal(at: datetime, with_time: bool = True) -> str:
    local = at.astimezone(WIB)
    text = f"{local.day} {MONTHS.split()[local.month - 1]} {local.year}"
    return f"{text} pukul {local:%H.%M} WIB" if with_time else text


async def render(runtime: Runtime, case_id: UUID, token: str) -> str:
    """Return the status page's HTML; UnknownStatusPage for a wrong token or case."""
    # as bytes: compare_digest refuses str with non-ASCII characters, which a URL may carry
    expected = status_token(_key(runtime), case_id).encode()
    if not hmac.compare_digest(token.encode("utf-8", "surrogatepass"), expected):
        raise UnknownStatusPage()
    async with runtime.pool.acquire() as conn:
        steps = await conn.fetch(
            "SELECT type, occurred_at, sop_id, sop_version, step, next_step"
            " FROM scheduling_milestones WHERE case_id = $1 ORDER BY global_position",
            case_id,
        )
        agenda = await conn.fetchrow(
            "SELECT activity_name, starts_at, ends_at, venue, tentative, status"
            " FROM scheduling_agenda WHERE case_id = $1",
            case_id,
        )
    if not steps and agenda is None:
        raise UnknownStatusPage()
    rows = "\n".join(
        f"<li><strong>{escape(MILESTONES[r['type']])}</strong> — {tanggal(r['occurred_at'])}</li>"
        for r in steps
    )
    plan = "<p>Jadwal pelaksanaan belum ditetapkan.</p>"
    title = "Permohonan"
    if agenda is not None:
        title = escape(agenda["activity_name"])
        if agenda["status"] == "cancelled":
            plan = "<p>Kegiatan ini dibatalkan.</p>"
        elif agenda["tentative"]:
            plan = f"<p>Tanggal kegiatan: {tanggal(agenda['starts_at'], with_time=False)}.</p>"
        else:
            venue = f", di {escape(agenda['venue'])}" if agenda["venue"] else ""
            plan = (
                f"<p>Jadwal pelaksanaan: {tanggal(agenda['starts_at'])} sampai"
                f" {agenda['ends_at'].astimezone(WIB):%H.%M} WIB{venue}.</p>"
            )
    cancelled = agenda is not None and agenda["status"] == "cancelled"
    ahead = "" if cancelled else _expected(runtime, steps, agenda)
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Status permohonan: {title}</title></head><body><main>"
        f"<h1>Status permohonan: {title}</h1>{plan}"
        f"<h2>Tahapan</h2><ol>{rows}</ol>{ahead}"
        "<p>Halaman ini diperbarui otomatis setiap ada perkembangan.</p></main></body></html>"
    )


def _expected(runtime: Runtime, steps: list[Record], agenda: Record | None) -> str:
    """The section of the steps still to come and when each is expected ("" if unknown)."""
    last = next((row for row in reversed(steps) if row["step"] is not None), None)
    if last is None or last["sop_id"] is None:
        return ""  # no step-completing milestone recorded with its step (older rows)
    if last["next_step"] is None:
        return "<h2>Perkiraan waktu</h2><p>Semua tahapan telah selesai.</p>"
    try:
        sop = runtime.catalog.get(last["sop_id"], last["sop_version"])
    except UnknownSop:
        return ""  # an SOP this installation no longer has: promise nothing
    starts = agenda["starts_at"] if agenda is not None and not agenda["tentative"] else None
    settings = runtime.settings
    office = settings if isinstance(settings, CalendarSettings) else CalendarSettings()
    calendar = office.calendar()
    dues = due_dates(sop, last["next_step"], last["occurred_at"], calendar, activity_starts=starts)
    items = "\n".join(
        f"<li><strong>{escape(step_name(sop, due.step.number))}</strong> — "
        f"{'sedang berjalan, ' if n == 0 else ''}perkiraan selesai {tanggal(due.by)}</li>"
        for n, due in enumerate(dues)
    )
    return (
        "<h2>Perkiraan waktu</h2>"
        "<p>Menurut waktu baku SOP, dihitung dalam jam kerja kantor.</p>"
        f"<ol>{items}</ol>"
    )


def step_name(sop: Sop, number: int) -> str:
    """What the requester reads for step `number` (reviews numbered when there are several)."""
    step = sop.step(number)
    name = STEP_NAMES[step.kind]
    reviews = [s.number for s in sop.steps if s.kind is StepKind.REVIEW]
    if step.kind is StepKind.REVIEW and len(reviews) > 1:
        name += f" (tahap {reviews.index(number) + 1})"
    return name
