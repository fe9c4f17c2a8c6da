"""The requester's status page: milestones and schedule in Indonesian, no staff data."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from prokopim_scheduling.handlers import on_event
from prokopim_sop import load_catalog

from .conftest import Svc, assign, assign_body, crew

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TANGERANG = load_catalog().get("tgr-58-2025")
NINE = datetime(2026, 12, 8, 9, 0, tzinfo=timezone(timedelta(hours=7)))


async def test_the_status_page_shows_milestones_and_schedule_but_nobody(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi Santoso", ["tim-liputan"])
    case = await svc.intake(TANGERANG, activity="Rapat Paripurna")
    body = assign_body(budi, NINE)
    body["assignments"][0]["name"] = "Budi Santoso"
    assert (await assign(svc, case, body)).status_code == 200
    for event in await svc.read(f"scheduling-{case}"):  # as the consumer receives them
        async with svc.runtime.pool.acquire() as conn, conn.transaction():
            await on_event(svc.runtime, event, conn)

    link = await svc.post(f"/cases/{case}/status-link", "ketua-tim", {})
    assert link.status_code == 200
    path = link.json()["path"]
    page = await svc.http.get(path)  # no login: the link is the credential

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Status permohonan: Rapat Paripurna" in text
    order = ["Permohonan diterima", "Disposisi pimpinan diberikan", "Petugas ditugaskan"]
    assert [text.index(m) for m in order] == sorted(text.index(m) for m in order)
    assert "Jadwal pelaksanaan: 8 Desember 2026 pukul 09.00 WIB sampai 11.00 WIB" in text
    assert "Budi" not in text and "ketua-tim" not in text

    forged = path[:-4] + ("AAAA" if not path.endswith("AAAA") else "BBBB")
    assert (await svc.http.get(forged)).status_code == 404
    other = path.replace(str(case), "00000000-0000-4000-8000-000000000000")
    assert (await svc.http.get(other)).status_code == 404


async def test_a_token_with_characters_outside_ascii_is_404_not_500(svc: Svc) -> None:
    """A mangled link (any characters a URL may carry) is an unknown page, never a crash."""
    case_id = uuid.uuid4()
    response = await svc.http.get(f"/status/{case_id}/%23%07%C2%8A%3Dt%F2%A3%A6%BF")
    assert response.status_code == 404, response.text


async def page_of(svc: Svc, case: uuid.UUID) -> str:
    """The status page's text once scheduling's consumer has seen the case's events."""
    for event in await svc.read(f"scheduling-{case}"):
        async with svc.runtime.pool.acquire() as conn, conn.transaction():
            await on_event(svc.runtime, event, conn)
    link = await svc.post(f"/cases/{case}/status-link", "ketua-tim", {})
    page = await svc.http.get(link.json()["path"])
    assert page.status_code == 200, page.text
    return page.text


async def test_the_status_page_gives_the_expected_date_of_every_step_to_come(svc: Svc) -> None:
    """Tangerang after the assignment: coverage at the activity (09.00, 180 minutes), then
    two reviews of 30 minutes and the publication's 20, in office hours, in Indonesian."""
    budi = await crew(svc, "tangerang", "Budi Santoso", ["tim-liputan"])
    case = await svc.intake(TANGERANG, activity="Rapat Paripurna")
    assert (await assign(svc, case, assign_body(budi, NINE))).status_code == 200

    text = await page_of(svc, case)

    ahead = text[text.index("<h2>Perkiraan waktu</h2>") :]
    expected = [
        "Peliputan kegiatan</strong> — sedang berjalan, perkiraan selesai"
        " 8 Desember 2026 pukul 12.00 WIB",
        "Pemeriksaan hasil (tahap 1)</strong> — perkiraan selesai 8 Desember 2026 pukul 12.30 WIB",
        "Pemeriksaan hasil (tahap 2)</strong> — perkiraan selesai 8 Desember 2026 pukul 13.00 WIB",
        "Penerbitan berita</strong> — perkiraan selesai 8 Desember 2026 pukul 13.20 WIB",
    ]
    assert [ahead.index(line) for line in expected] == sorted(ahead.index(e) for e in expected)
    assert "Penugasan petugas" not in ahead  # passed: listed under Tahapan, not ahead
    assert "Budi" not in text

    cancel = await svc.post(f"/cases/{case}/cancel", "ketua-tim", {"reason": "Acara batal"})
    assert cancel.status_code == 200, cancel.text
    cancelled = await page_of(svc, case)
    assert "Kegiatan ini dibatalkan." in cancelled and "Perkiraan waktu" not in cancelled
