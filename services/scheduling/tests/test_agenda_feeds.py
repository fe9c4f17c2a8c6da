"""The leader's agenda warnings and the iCalendar feeds, parsed back with `icalendar`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from icalendar import Calendar
from prokopim_sop import load_catalog

from .conftest import Svc, assign, assign_body, crew

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TANGERANG = load_catalog().get("tgr-58-2025")
WIB = timezone(timedelta(hours=7))
NINE = datetime(2026, 12, 8, 9, 0, tzinfo=WIB)
FLAG = "prokopim.scheduling.agenda-overlap-flagged.v1"


async def flags(svc: Svc, case_id: UUID) -> list[dict[str, Any]]:
    return [e.data for e in await svc.read(f"scheduling-agenda-{case_id}") if e.type == FLAG]


async def test_same_day_cases_for_the_leader_are_flagged_at_intake(svc: Svc) -> None:
    first = await svc.intake(TANGERANG, activity="Rapat Paripurna")
    second = await svc.intake(TANGERANG, activity="Kunjungan Kerja")
    other_day = await svc.intake(TANGERANG, activity="Upacara", day=date(2026, 12, 9))

    assert await flags(svc, first) == []
    assert await flags(svc, other_day) == []
    (flag,) = await flags(svc, second)
    assert flag["detected_at"] == "intake" and flag["basis"] == "leader"
    assert flag["leader"] == "pimpinan" and flag["office"] == "tangerang"
    assert [c["case_id"] for c in flag["cases"]] == [str(second), str(first)]
    assert all(c["tentative"] for c in flag["cases"])


async def test_overlapping_windows_at_one_venue_are_flagged_without_blocking(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    siti = await crew(svc, "tangerang", "Siti", ["tim-liputan"])
    first = await svc.intake(TANGERANG, day=date(2026, 12, 10))
    second = await svc.intake(TANGERANG, activity="Rapat", day=date(2026, 12, 11))
    assert await flags(svc, second) == []  # different days at intake

    assert (await assign(svc, first, assign_body(budi, NINE, leader="wakil"))).status_code == 200
    later = NINE + timedelta(hours=1)
    body = assign_body(siti, later, leader="wali-kota")
    body["assignments"][0]["name"] = "Siti"
    booked = await assign(svc, second, body)

    assert booked.status_code == 200, booked.text
    (flag,) = await flags(svc, second)
    assert flag["detected_at"] == "scheduling" and flag["basis"] == "venue"
    assert flag["venue"] == "Pendopo"
    assert [c["case_id"] for c in flag["cases"]] == [str(second), str(first)]
    assert flag["cases"][1]["starts_at"] == "2026-12-08T02:00:00Z"


async def feed(svc: Svc, scope: str, resource_id: str | None = None) -> tuple[str, str]:
    body = {"scope": scope, "office": "tangerang", "resource_id": resource_id}
    created = await svc.post("/feeds", "kepala-bagian", body)
    assert created.status_code == 201, created.text
    view = created.json()
    return view["feed_id"], view["path"]


async def fetch(svc: Svc, path: str) -> Calendar:
    response = await svc.http.get(path)  # no bearer token: calendar programs have none
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def events(calendar: Calendar) -> list[Any]:
    return list(calendar.walk("VEVENT"))


async def test_feeds_keep_uids_raise_sequence_and_cancel(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    case = await svc.intake(TANGERANG, activity="Rapat Paripurna")
    _, crew_path = await feed(svc, "crew", budi)
    _, office_path = await feed(svc, "office")
    assert (await assign(svc, case, assign_body(budi, NINE))).status_code == 200
    (booking,) = (await svc.get(f"/cases/{case}/bookings")).json()["bookings"]

    (first,) = events(await fetch(svc, crew_path))
    assert str(first["uid"]) == f"{booking['booking_id']}@prokopim"
    assert first.decoded("dtstart") == NINE and str(first["status"]) == "CONFIRMED"
    assert first.decoded("dtstart").utcoffset() == timedelta(hours=7)
    assert int(first["sequence"]) == 0 and str(first["summary"]) == "Rapat Paripurna"
    assert str(first["location"]) == "Pendopo"

    reschedule = {"starts_at": "2026-12-08T13:00:00+07:00", "reason": "Agenda bergeser"}
    assert (await svc.post(f"/cases/{case}/reschedule", "ketua-tim", reschedule)).status_code == 200
    (moved,) = events(await fetch(svc, crew_path))
    assert str(moved["uid"]) == str(first["uid"]) and int(moved["sequence"]) == 1
    assert moved.decoded("dtstart") == NINE + timedelta(hours=4)

    assert (await svc.post(f"/cases/{case}/cancel", "ketua-tim", {"reason": "Batal"})).status_code
    (gone,) = events(await fetch(svc, crew_path))
    assert str(gone["uid"]) == str(first["uid"]) and int(gone["sequence"]) == 2
    assert str(gone["status"]) == "CANCELLED"

    (activity,) = events(await fetch(svc, office_path))
    assert str(activity["uid"]) == f"{case}@prokopim" and str(activity["status"]) == "CANCELLED"
    assert int(activity["sequence"]) == 3  # intake, assignment, reschedule, cancel


async def test_a_feed_needs_its_secret_and_stops_when_revoked(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    feed_id, path = await feed(svc, "crew", budi)
    wrong = path.rsplit("=", 1)[0] + "=not-the-secret"
    assert (await svc.http.get(wrong)).status_code == 404
    assert (await svc.http.get(path.split("?")[0])).status_code == 422  # no token at all
    assert len(events(await fetch(svc, path))) == 0

    revoked = await svc.post(f"/feeds/{feed_id}/revoke", "kepala-bagian", {})
    assert revoked.status_code == 204
    assert (await svc.http.get(path)).status_code == 404
    stored = await svc.runtime.pool.fetchval(
        "SELECT count(*) FROM scheduling_feeds WHERE token_hash = convert_to($1, 'UTF8')",
        path.rsplit("=", 1)[1],
    )
    assert stored == 0  # only the hash is kept
