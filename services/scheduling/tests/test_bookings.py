"""Resources, bookings that cannot clash, reschedule and cancel: the real service on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from uuid import UUID

import asyncpg
import pytest
from prokopim_kit.pagination import encode_cursor
from prokopim_sop import load_catalog

from .conftest import Svc, assign, assign_body, crew, item

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
TANGERANG = load_catalog().get("tgr-58-2025")
WIB = timezone(timedelta(hours=7))
NINE = datetime(2026, 12, 8, 9, 0, tzinfo=WIB)
BDG_INPUTS = {"request-letter": "ref://surat", "script": "ref://naskah", "disposition-sheet": "d"}


async def test_resources_are_registered_per_office_as_events(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    camera = await item(svc, "tangerang", "camera", "Kamera Sony A7 #1")
    repaired = await svc.put(
        f"/offices/tangerang/equipment/{camera}",
        "kepala-bagian",
        {"kind": "camera", "label": "Kamera Sony A7 #1", "condition": "in-repair"},
    )
    assert repaired.status_code == 200 and repaired.json()["condition"] == "in-repair"

    assert await svc.types(f"scheduling-resource-{budi}") == ["crew-member-registered.v1"]
    assert await svc.types(f"scheduling-resource-{camera}") == [
        "equipment-item-registered.v1",
        "equipment-item-updated.v1",
    ]
    listed = (await svc.get("/offices/tangerang/crew")).json()["resources"]
    assert [(m["name"], m["roles"]) for m in listed] == [("Budi", ["tim-liputan"])]
    assert (await svc.get("/offices/bandung/crew")).json()["resources"] == []


async def test_resource_and_booking_lists_come_in_cursor_pages(svc: Svc) -> None:
    names = ["Citra", "Agus", "Budi"]
    members = [await crew(svc, "tangerang", name, ["tim-liputan"]) for name in names]

    first = await svc.get("/offices/tangerang/crew?limit=2")
    page = first.json()
    assert [m["name"] for m in page["resources"]] == ["Agus", "Budi"] and page["count"] == 2
    assert first.headers["Link"] == f'<{page["next"]}>; rel="next"'
    last = (await svc.get(page["next"])).json()
    assert [m["name"] for m in last["resources"]] == ["Citra"] and last["next"] is None
    assert (await svc.get("/offices/tangerang/equipment")).json()["resources"] == []

    cases = [await svc.intake(TANGERANG, activity=f"Acara {n}") for n in range(3)]
    for n, (case, member) in enumerate(zip(cases, members, strict=True)):
        assert (await assign(svc, case, assign_body(member, NINE + timedelta(hours=n)))).is_success
    seen, link = [], "/offices/tangerang/bookings?limit=2"
    while link:
        page = (await svc.get(link)).json()
        seen += [b["summary"] for b in page["bookings"]]
        link = page["next"]
    assert seen == ["Acara 0", "Acara 1", "Acara 2"]
    case_page = (await svc.get(f"/cases/{cases[0]}/bookings?limit=1")).json()
    assert [b["resource"] for b in case_page["bookings"]] == ["Citra"]
    assert case_page["next"] is None

    for cursor in ("not-a-list", ["a", 1], ["\u0000", str(uuid.uuid4())], ["a", "b", "c"]):
        encoded = encode_cursor(cursor)
        forged = await svc.get(f"/offices/tangerang/crew?cursor={encoded}")
        assert forged.status_code == 422 and forged.json()["field"] == "cursor", cursor
    stamp = encode_cursor(["not a time", "Budi", str(uuid.uuid4())])
    forged = await svc.get(f"/offices/tangerang/bookings?cursor={stamp}")
    assert forged.status_code == 422 and forged.json()["field"] == "cursor"


async def test_bad_resources_are_refused_naming_what_is_wrong(svc: Svc) -> None:
    head = "kepala-bagian"
    role = await svc.post("/offices/tangerang/crew", head, {"name": "X", "roles": ["penata"]})
    assert role.status_code == 422 and role.json()["field"] == "roles"
    assert "tim-liputan" in role.json()["detail"]
    kind = await svc.post("/offices/tangerang/equipment", head, {"kind": "drone", "label": "D"})
    assert kind.status_code == 422 and kind.json()["field"] == "kind"
    assert "camera" in kind.json()["detail"]
    office = await svc.post("/offices/jakarta/crew", head, {"name": "X", "roles": ["a"]})
    assert office.status_code == 404 and office.json()["error"] == "unknown_office"
    who = await svc.post("/offices/tangerang/crew", "tim-liputan", {"name": "X", "roles": ["a"]})
    assert who.status_code == 403


async def test_an_overlapping_booking_is_refused_naming_the_clash(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    first, second = await svc.intake(TANGERANG), await svc.intake(TANGERANG, activity="Rapat")

    booked = await assign(svc, first, assign_body(budi, NINE))
    assert booked.status_code == 200, booked.text
    # 10:30 starts within the first's window plus its 30-minute buffer
    refused = await assign(svc, second, assign_body(budi, NINE + timedelta(hours=2, minutes=30)))

    assert refused.status_code == 409
    clash = refused.json()
    assert clash["error"] == "booking_clash"
    assert clash["resource"] == "Budi" and clash["clashing_case_id"] == str(first)
    assert clash["clashing_from"] == "2026-12-08T08:30:00+07:00"
    assert clash["clashing_until"] == "2026-12-08T11:30:00+07:00"
    assert "Budi" in clash["detail"] and str(first) in clash["detail"]
    assert "2026-12-08 08:30 WIB" in clash["detail"]
    assert await svc.types(f"scheduling-{second}") == ["step-opened.v1"]

    later = await assign(svc, second, assign_body(budi, NINE + timedelta(hours=3)))
    assert later.status_code == 200, later.text
    assert await svc.types(f"scheduling-{first}") == [
        "step-opened.v1",
        "staff-assigned.v1",
        "resources-booked.v1",
    ]


async def test_a_scheduler_can_override_a_clash_with_a_reason_that_is_recorded(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    first, second = await svc.intake(TANGERANG), await svc.intake(TANGERANG, activity="Rapat")
    assert (await assign(svc, first, assign_body(budi, NINE))).status_code == 200

    body = assign_body(budi, NINE, override_reason="Wali Kota meminta Budi di kedua acara")
    overridden = await assign(svc, second, body)

    assert overridden.status_code == 200, overridden.text
    booked = (await svc.read(f"scheduling-{second}"))[-1]
    assert booked.type == "prokopim.scheduling.resources-booked.v1"
    reason = "Wali Kota meminta Budi di kedua acara"
    assert booked.data["bookings"][0]["override_reason"] == reason
    rows = (await svc.get(f"/cases/{second}/bookings")).json()["bookings"]
    assert [r["override_reason"] for r in rows] == [reason]


async def test_a_booking_over_an_overridden_one_is_still_refused(svc: Svc) -> None:
    # The exclusion constraint leaves overridden bookings out: the clash must still be seen.
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    first, second = await svc.intake(TANGERANG), await svc.intake(TANGERANG, activity="Rapat")
    third = await svc.intake(TANGERANG, activity="Kunjungan")
    assert (await assign(svc, first, assign_body(budi, NINE))).status_code == 200
    later = NINE + timedelta(hours=1, minutes=30)  # reserved 10:00-13:00, over the first's
    body = assign_body(budi, later, override_reason="Wali Kota meminta Budi di kedua acara")
    assert (await assign(svc, second, body)).status_code == 200

    # 12:00 starts after the first's reservation (until 11:30) but within the second's
    refused = await assign(svc, third, assign_body(budi, NINE + timedelta(hours=3)))

    assert refused.status_code == 409, refused.text
    assert refused.json()["clashing_case_id"] == str(second)
    assert await svc.types(f"scheduling-{third}") == ["step-opened.v1"]


async def test_twenty_concurrent_bookings_of_one_person_give_exactly_one(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    cases = [await svc.intake(TANGERANG, activity=f"Acara {n}") for n in range(20)]

    responses = await asyncio.gather(
        *(
            assign(svc, case, assign_body(budi, NINE + timedelta(minutes=5 * n)))
            for n, case in enumerate(cases)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code != 409]
    assert {r.json()["error"] for r in responses if r.status_code == 409} == {"booking_clash"}
    rows = await svc.runtime.pool.fetch(
        "SELECT case_id FROM scheduling_bookings WHERE resource_id = $1 AND status = 'confirmed'",
        UUID(budi),
    )
    winner = [case for case, r in zip(cases, responses, strict=True) if r.status_code == 200]
    assert [row["case_id"] for row in rows] == winner


async def test_the_database_itself_refuses_an_overlap(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    insert = (
        "INSERT INTO scheduling_bookings (booking_id, case_id, resource_id, office, starts_at,"
        " ends_at, during, summary, updated_at) VALUES ($1, $2, $3, 'tangerang', $4, $5,"
        " tstzrange($4, $5), 'x', now())"
    )
    pool = svc.runtime.pool
    await pool.execute(insert, uuid.uuid4(), uuid.uuid4(), UUID(budi), NINE, NINE + timedelta(1))
    with pytest.raises(asyncpg.ExclusionViolationError):
        await pool.execute(
            insert, uuid.uuid4(), uuid.uuid4(), UUID(budi), NINE, NINE + timedelta(2)
        )


async def test_items_in_repair_and_unfit_roles_cannot_be_booked(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["ketua-tim"])
    camera = await item(svc, "tangerang", "camera", "Kamera #1")
    await svc.put(
        f"/offices/tangerang/equipment/{camera}",
        "kepala-bagian",
        {"kind": "camera", "label": "Kamera #1", "condition": "in-repair"},
    )
    case = await svc.intake(TANGERANG)

    unfit = await assign(svc, case, assign_body(budi, NINE))
    assert unfit.status_code == 422 and unfit.json()["field"] == "assignments"
    broken = await assign(
        svc,
        case,
        assign_body(budi, NINE, assignments=[{"name": "B", "role": "tim-liputan"}])
        | {"equipment": [camera]},
    )
    assert broken.status_code == 409 and broken.json()["error"] == "resource_in_repair"


async def test_reschedule_moves_and_cancel_releases_the_bookings(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    camera = await item(svc, "tangerang", "camera", "Kamera #1")
    case, other = await svc.intake(TANGERANG), await svc.intake(TANGERANG, activity="Rapat")
    body = assign_body(budi, NINE) | {"equipment": [camera]}
    assert (await assign(svc, case, body)).status_code == 200

    moved = await svc.post(
        f"/cases/{case}/reschedule",
        "ketua-tim",
        {"starts_at": "2026-12-09T13:00:00", "reason": "Wali Kota ke Jakarta"},
    )
    assert moved.status_code == 200, moved.text
    assert len(moved.json()["booked"]) == 2
    rows = (await svc.get(f"/cases/{case}/bookings")).json()["bookings"]
    assert {(r["starts_at"], r["sequence"]) for r in rows} == {("2026-12-09T06:00:00Z", 1)}
    # the old window is free again
    assert (await assign(svc, other, assign_body(budi, NINE))).status_code == 200

    cancelled = await svc.post(f"/cases/{case}/cancel", "kepala-bagian", {"reason": "Batal"})
    assert cancelled.status_code == 200, cancelled.text
    assert await svc.types(f"scheduling-{case}") == [
        "step-opened.v1",
        "staff-assigned.v1",
        "resources-booked.v1",
        "case-rescheduled.v1",
        "resources-booked.v1",
        "case-cancelled.v1",
        "bookings-released.v1",
    ]
    rows = (await svc.get(f"/cases/{case}/bookings")).json()["bookings"]
    assert {(r["status"], r["sequence"]) for r in rows} == {("cancelled", 2)}
    again = await svc.post(f"/cases/{case}/cancel", "kepala-bagian", {"reason": "Batal"})
    assert again.status_code == 409 and again.json()["error"] == "case_cancelled"


async def test_a_cancelled_case_takes_no_command_not_even_a_notice(svc: Svc) -> None:
    case = await svc.intake(BANDUNG)
    schedule = {"scheduled_at": "2026-12-08T09:00:00", "location": "Balai", "inputs": BDG_INPUTS}
    assert (await svc.post(f"/cases/{case}/schedule", "ka-tim-dokpim", schedule)).is_success
    reason = "Acara dibatalkan oleh penyelenggara"
    assert (await svc.post(f"/cases/{case}/cancel", "ka-bagian", {"reason": reason})).is_success

    notice = {"channel": "email", "inputs": BDG_INPUTS}
    refused = await svc.post(f"/cases/{case}/notification", "koordinator-kpp", notice)

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["error"], problem["case_id"], problem["reason"]) == (
        "case_cancelled",
        str(case),
        reason,
    )
    assert problem["detail"].startswith(f"case {case} was cancelled on ")
    assert (await svc.types(f"scheduling-{case}"))[-1] == "case-cancelled.v1"


async def test_bandung_books_at_step_3_and_keeps_the_crew_assigned_at_step_5(svc: Svc) -> None:
    budi = await crew(svc, "bandung", "Budi", ["penata-liputan"])
    asep = await crew(svc, "bandung", "Asep", ["penata-liputan"])
    tripod = await item(svc, "bandung", "tripod", "Tripod #1")
    case = await svc.intake(BANDUNG)
    schedule = {
        "scheduled_at": "2026-12-08T09:00:00",
        "location": "Balai Kota",
        "inputs": BDG_INPUTS,
        "crew": [{"member_id": budi, "role": "penata-liputan"}],
        "equipment": [tripod],
    }
    done = await svc.post(f"/cases/{case}/schedule", "ka-tim-dokpim", schedule)
    assert done.status_code == 200, done.text
    notified = await svc.post(
        f"/cases/{case}/notification", "koordinator-kpp", {"channel": "email", "inputs": BDG_INPUTS}
    )
    assert notified.status_code == 200

    team = [{"name": "Asep", "role": "penata-liputan", "member_id": asep}]
    step5 = {"assignments": team, "inputs": {"schedule": "jadwal"}}
    assigned = await svc.post(f"/cases/{case}/assignments", "ka-tim-dokpim", step5)

    assert assigned.status_code == 200, assigned.text
    rows = {r["resource"]: r for r in (await svc.get(f"/cases/{case}/bookings")).json()["bookings"]}
    assert {name: r["status"] for name, r in rows.items()} == {
        "Asep": "confirmed",
        "Budi": "cancelled",
        "Tripod #1": "confirmed",
    }
    assert rows["Asep"]["starts_at"] == "2026-12-08T02:00:00Z"
    assert rows["Asep"]["ends_at"] == "2026-12-08T04:00:00Z"
    assert await svc.types(f"scheduling-{case}") == [
        "step-opened.v1",
        "schedule-coordinated.v1",
        "resources-booked.v1",
        "requester-notified.v1",
        "staff-assigned.v1",
        "resources-booked.v1",
        "bookings-released.v1",
    ]


async def test_a_refused_booking_leaves_nothing_behind(svc: Svc) -> None:
    budi = await crew(svc, "tangerang", "Budi", ["tim-liputan"])
    camera = await item(svc, "tangerang", "camera", "Kamera #1")
    first, second = await svc.intake(TANGERANG), await svc.intake(TANGERANG, activity="Rapat")
    assert (await assign(svc, first, assign_body(budi, NINE))).status_code == 200

    body = assign_body(budi, NINE) | {"equipment": [camera]}
    assert (await assign(svc, second, body)).status_code == 409

    count = await svc.runtime.pool.fetchval(
        "SELECT count(*) FROM scheduling_bookings WHERE case_id = $1", second
    )
    assert count == 0
