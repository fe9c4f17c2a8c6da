"""The requester's status page: milestones and expected dates, in Bahasa Indonesia.

The link is `/status/<case_id>/<token>`, the token an HMAC of the case id under
STATUS_LINK_SECRET (else a key derived from JWT_SECRET): unguessable, nothing to store, and
whoever sends the requester a mail can compute it. The page shows which milestones the case
passed and when, and the activity's schedule; never who worked on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from html import escape
from uuid import UUID

from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.errors import CommandRejected
from prokopim_kit.runtime import Runtime
from pydantic import Field
from pydantic_settings import BaseSettings

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
MONTHS = "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember"


class StatusSettings(BaseSettings):
    status_link_secret: str | None = Field(
        default=None,
        min_length=32,
        description="STATUS_LINK_SECRET: key of the status-page links (else derived from "
        "JWT_SECRET); changing it invalidates every link sent",
    )


class UnknownStatusPage(CommandRejected):
    status = 404
    code = "unknown_status_page"

    def __init__(self) -> None:
        super().__init__("no such status page")


def _key(runtime: Runtime) -> bytes:
    own = (
        getattr(runtime.settings, "status_link_secret", None) or StatusSettings().status_link_secret
    )
    if own:
        return own.encode()
    secret = runtime.settings.jwt_secret
    if not secret:
        raise UnknownStatusPage()  # RS256 installations must set STATUS_LINK_SECRET
    return hmac.new(secret.encode(), b"prokopim status links", hashlib.sha256).digest()


def status_token(key: bytes, case_id: UUID) -> str:
    """Return the unguessable token of a case's status page."""
    mac = hmac.new(key, b"status:" + case_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def status_path(runtime: Runtime, case_id: UUID) -> str:
    return f"/status/{case_id}/{status_token(_key(runtime), case_id)}"


async def record(runtime: Runtime, event: StoredEvent, conn: Connection) -> None:
    """Note a milestone of a case as the consumer sees it pass."""
    if event.type in MILESTONES and "case_id" in event.data:
        await conn.execute(
            "INSERT INTO scheduling_milestones VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            UUID(str(event.data["case_id"])),
            event.global_position,
            event.type,
            event.occurred_at,
        )


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
            "SELECT type, occurred_at FROM scheduling_milestones WHERE case_id = $1"
            " ORDER BY global_position",
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
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Status permohonan: {title}</title></head><body><main>"
        f"<h1>Status permohonan: {title}</h1>{plan}"
        f"<h2>Tahapan</h2><ol>{rows}</ol>"
        "<p>Halaman ini diperbarui otomatis setiap ada perkembangan.</p></main></body></html>"
    )
