"""Intake over HTTP, in-process, against a real PostgreSQL event store and real NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from prokopim_events.contracts import CaseFile, DispositionGiven, Requester, RequestReceived
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.store import EventStore
from prokopim_kit.commands import to_new_events
from prokopim_kit.runtime import Runtime

pytestmark = pytest.mark.integration

Auth = Callable[..., dict[str, str]]  # the `auth` fixture: role, subject=, secret= -> headers

BANDUNG = "bdg-setda-010-2024"
TANGERANG = "tgr-58-2025"
RECEIVER = {BANDUNG: "pengadministrasi-umum", TANGERANG: "pengadministrasi-perkantoran"}
HEAD = {BANDUNG: "ka-bagian", TANGERANG: "kepala-bagian"}
STEP1_INPUTS = {
    BANDUNG: {"request-letter": "doc://letters/17", "script": "doc://scripts/17"},
    TANGERANG: {"request-letter": "doc://letters/58"},
}
STEP2_INPUTS = {
    BANDUNG: {
        "request-letter": "doc://letters/17",
        "script": "doc://scripts/17",
        "disposition-sheet": "doc://dispositions/17",
    },
    TANGERANG: {"request-letter": "doc://letters/58", "agenda": "doc://agenda/2025-03"},
}


def letter(sop: str = BANDUNG, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sop_id": sop,
        "letter_number": f"800/{uuid.uuid4().hex[:6]}-Diskominfo",
        "requester": {"name": "Siti", "agency": "Diskominfo", "email": "siti@example.go.id"},
        "subject": "Tapping video HUT Kota",
        "activity_name": "HUT Kota",
        "activity_date": "2025-05-25",
        "attachments": [{"kind": "script", "ref": "doc://scripts/17", "name": "naskah.pdf"}],
        "inputs": STEP1_INPUTS[sop],
    }
    return {**body, **changes}


def disposition(sop_id: str = BANDUNG, **changes: Any) -> dict[str, Any]:
    return {"instruction": "Proceed; Ka. Tim to schedule", "inputs": STEP2_INPUTS[sop_id]} | changes


class LoadTogether(EventStore):
    """A store whose first `parties` stream reads wait for each other, so racing commands
    both load before either appends; later reads (a loser catching up) pass at once."""

    def __init__(self, store: EventStore, parties: int) -> None:
        super().__init__(store.pool)
        self._barrier = asyncio.Barrier(parties)
        self._waiting = parties

    async def read_stream(
        self, stream_id: str, *, after_version: int = 0, conn: Connection | None = None
    ) -> list[StoredEvent]:
        events = await super().read_stream(stream_id, after_version=after_version, conn=conn)
        if self._waiting > 0:
            self._waiting -= 1
            async with asyncio.timeout(10):
                await self._barrier.wait()
        return events


async def event_count(store: EventStore) -> int:
    count: int = await store.pool.fetchval("SELECT count(*) FROM events")
    return count


async def stream(store: EventStore, case_id: str) -> list[StoredEvent]:
    return await store.read_stream(f"intake-{case_id}")


async def registered(http: httpx.AsyncClient, auth: Auth, sop_id: str = BANDUNG) -> str:
    response = await http.post("/cases", json=letter(sop_id), headers=auth(RECEIVER[sop_id]))
    assert response.status_code == 201, response.text
    case_id: str = response.json()["case_id"]
    return case_id


# --- the happy path -----------------------------------------------------------------------
@pytest.mark.parametrize("sop_id", [BANDUNG, TANGERANG])
async def test_a_registered_letter_is_stored_as_request_received(
    auth: Auth, client: httpx.AsyncClient, store: EventStore, sop_id: str
) -> None:
    response = await client.post(
        "/cases", json=letter(sop_id), headers=auth(RECEIVER[sop_id], subject="clerk-7")
    )

    assert response.status_code == 201, response.text
    body = response.json()
    case_id = body["case_id"]
    assert UUID(case_id).version == 4
    expected_version = "2024.1" if sop_id == BANDUNG else "2025.1"
    assert body["sop_id"] == sop_id
    assert body["sop_version"] == expected_version
    assert body["awaiting_step"] == 2
    assert response.headers["location"] == f"/cases/{case_id}"
    [event] = await stream(store, case_id)
    assert event.type == RequestReceived.TYPE
    assert (event.actor.id, event.actor.role) == ("clerk-7", RECEIVER[sop_id])
    assert event.data["step"] == 1
    assert event.data["next_step"] == 2
    assert event.data["case_id"] == case_id
    assert event.data["sop_version"] == expected_version
    assert event.data["inputs"] == STEP1_INPUTS[sop_id]
    assert event.data["case"]["activity_date"] == "2025-05-25"
    assert event.data["case"]["attachments"][0]["ref"] == "doc://scripts/17"


@pytest.mark.parametrize("sop_id", [BANDUNG, TANGERANG])
async def test_the_disposition_is_stored_and_hands_the_case_over(
    auth: Auth, client: httpx.AsyncClient, store: EventStore, sop_id: str
) -> None:
    case_id = await registered(client, auth, sop_id)

    response = await client.post(
        f"/cases/{case_id}/disposition",
        json=disposition(sop_id),
        headers=auth(HEAD[sop_id], subject="head-1"),
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "case_id": case_id,
        "sop_id": sop_id,
        "sop_version": "2024.1" if sop_id == BANDUNG else "2025.1",
        "step": 2,
        "next_step": 3,
        "awaiting_step": None,
    }
    first, second = await stream(store, case_id)
    assert first.type == RequestReceived.TYPE
    assert second.type == DispositionGiven.TYPE
    assert (second.actor.id, second.actor.role) == ("head-1", HEAD[sop_id])
    assert (second.data["step"], second.data["next_step"]) == (2, 3)
    assert second.data["instruction"] == "Proceed; Ka. Tim to schedule"
    assert second.data["case"] == first.data["case"]


async def test_the_view_shows_the_case_and_who_did_each_step(
    auth: Auth, client: httpx.AsyncClient
) -> None:
    case_id = await registered(client, auth)
    view = (await client.get(f"/cases/{case_id}", headers=auth("ka-tim-dokpim"))).json()
    assert view["awaiting_step"] == 2
    assert view["case"]["letter_number"].endswith("-Diskominfo")

    await client.post(
        f"/cases/{case_id}/disposition", json=disposition(), headers=auth("ka-bagian", "kb")
    )
    response = await client.get(f"/cases/{case_id}", headers=auth("ka-tim-dokpim"))

    assert response.status_code == 200
    view = response.json()
    assert view["sop_id"] == BANDUNG
    assert view["awaiting_step"] is None
    assert view["instruction"] == "Proceed; Ka. Tim to schedule"
    history = [(h["step"], h["actor_id"], h["role"]) for h in view["history"]]
    assert history == [(1, "user-1", "pengadministrasi-umum"), (2, "kb", "ka-bagian")]
    assert all(h["at"] for h in view["history"])


# --- refusals: each names what to fix and writes nothing ----------------------------------
async def test_commands_without_a_valid_token_are_401(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    case_id = await registered(client, auth)
    before = await event_count(store)
    bad_tokens: list[dict[str, str]] = [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        auth("pengadministrasi-umum", secret="another-secret-0123456789abcdefgh"),
    ]

    for headers in bad_tokens:
        register = await client.post("/cases", json=letter(), headers=headers)
        dispose = await client.post(
            f"/cases/{case_id}/disposition", json=disposition(), headers=headers
        )
        view = await client.get(f"/cases/{case_id}", headers=headers)
        assert [register.status_code, dispose.status_code, view.status_code] == [401] * 3
        assert register.json()["error"] == "unauthenticated"

    assert await event_count(store) == before


async def test_the_wrong_role_is_403_naming_the_required_role(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    register = await client.post("/cases", json=letter(), headers=auth("ka-bagian"))
    assert register.status_code == 403
    assert register.json()["required_role"] == "pengadministrasi-umum"
    case_id = await registered(client, auth)

    dispose = await client.post(
        f"/cases/{case_id}/disposition",
        json=disposition(),
        headers=auth("pengadministrasi-umum"),
    )

    assert dispose.status_code == 403
    assert dispose.json()["error"] == "wrong_role"
    assert dispose.json()["required_role"] == "ka-bagian"
    assert "ka-bagian" in dispose.json()["detail"]
    assert await event_count(store) == 1  # only the registration


async def test_missing_inputs_are_422_naming_them(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    register = await client.post(
        "/cases",
        json=letter(inputs={"request-letter": "doc://l/1"}),
        headers=auth("pengadministrasi-umum"),
    )
    assert register.status_code == 422
    assert register.json()["missing_inputs"] == ["script"]
    case_id = await registered(client, auth, TANGERANG)

    dispose = await client.post(
        f"/cases/{case_id}/disposition",
        json=disposition(TANGERANG, inputs={"request-letter": "doc://l/1", "agenda": " "}),
        headers=auth("kepala-bagian"),
    )

    assert dispose.status_code == 422
    assert dispose.json()["error"] == "missing_inputs"
    assert dispose.json()["missing_inputs"] == ["agenda"]
    assert await event_count(store) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"activity_date": "next tuesday"}, "activity_date"),
        ({"letter_number": "   "}, "letter_number"),
        ({"requester": {"name": "Siti", "agency": "X", "email": "not-an-email"}}, "email"),
    ],
)
async def test_a_malformed_body_is_422_naming_the_field(
    auth: Auth, client: httpx.AsyncClient, store: EventStore, changes: dict[str, Any], field: str
) -> None:
    response = await client.post(
        "/cases", json=letter(**changes), headers=auth("pengadministrasi-umum")
    )

    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"].split(".")[-1] for error in problem["errors"]] == [field]
    assert field in problem["detail"]
    assert await event_count(store) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"sop_id": "no-such-sop"}, "sop_id"), ({"sop_version": "1999.9"}, "sop_version")],
)
async def test_an_unknown_sop_is_422_naming_the_field(
    auth: Auth, client: httpx.AsyncClient, store: EventStore, changes: dict[str, Any], field: str
) -> None:
    response = await client.post(
        "/cases", json=letter(**changes), headers=auth("pengadministrasi-umum")
    )

    assert response.status_code == 422
    assert response.json()["error"] == "invalid_command"
    assert response.json()["field"] == field
    assert await event_count(store) == 0


async def test_an_unknown_case_is_404(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    unknown = "7d6f0c1e-0000-4000-8000-000000000000"

    dispose = await client.post(
        f"/cases/{unknown}/disposition", json=disposition(), headers=auth("ka-bagian")
    )
    view = await client.get(f"/cases/{unknown}", headers=auth("ka-bagian"))

    assert (dispose.status_code, view.status_code) == (404, 404)
    assert {**dispose.json(), "instance": None} == {**view.json(), "instance": None}
    assert dispose.json()["error"] == "unknown_case"
    assert dispose.json()["case_id"] == unknown
    assert await event_count(store) == 0


async def test_a_second_disposition_is_409_naming_the_awaited_step(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    case_id = await registered(client, auth)
    url = f"/cases/{case_id}/disposition"
    first = await client.post(url, json=disposition(), headers=auth("ka-bagian"))
    assert first.status_code == 200

    second = await client.post(url, json=disposition(), headers=auth("ka-bagian"))

    assert second.status_code == 409
    assert second.json()["error"] == "step_out_of_order"
    assert second.json()["awaiting_step"] == 3
    assert [e.type for e in await stream(store, case_id)] == [
        RequestReceived.TYPE,
        DispositionGiven.TYPE,
    ]


async def test_racing_dispositions_give_one_success_and_one_409_naming_the_step(
    auth: Auth, app: FastAPI, client: httpx.AsyncClient, store: EventStore
) -> None:
    case_id = await registered(client, auth)
    url = f"/cases/{case_id}/disposition"
    runtime: Runtime = app.state.runtime
    # Without this, one request may finish before the other loads: no real race.
    runtime.store = LoadTogether(runtime.store, parties=2)

    responses = await asyncio.gather(
        *(
            client.post(url, json=disposition(instruction=f"take {n}"), headers=auth("ka-bagian"))
            for n in (1, 2)
        )
    )

    assert sorted(r.status_code for r in responses) == [200, 409]
    [lost] = [r for r in responses if r.status_code == 409]
    # The loser's append failed on the version check; decided again on the case as it now
    # is, it is refused for what it is: the disposition was given, the case waits at step 3.
    assert (lost.json()["error"], lost.json()["awaiting_step"]) == ("step_out_of_order", 3)
    events = await stream(store, case_id)
    assert [e.type for e in events] == [RequestReceived.TYPE, DispositionGiven.TYPE]
    await runtime.store.drain()


async def test_concurrent_registrations_each_open_their_own_case(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/cases",
                json=letter(letter_number=f"800/{n}-Diskominfo"),
                headers=auth("pengadministrasi-umum"),
            )
            for n in range(20)
        )
    )

    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["case_id"] for r in responses}) == 20
    assert await event_count(store) == 20


async def test_a_case_whose_sop_version_is_no_longer_installed_gets_409(
    client: httpx.AsyncClient, auth: Auth, store: EventStore
) -> None:
    case_id = uuid.uuid4()
    received = RequestReceived(
        case_id=case_id,
        sop_id=BANDUNG,
        sop_version="0-removed",
        step=1,
        next_step=2,
        case=CaseFile(
            letter_number="800/1",
            requester=Requester(name="Siti", agency="Diskominfo"),
            subject="Tapping",
            activity_name="HUT Kota",
            activity_date=date(2025, 5, 25),
        ),
    )
    actor = Actor(id="rina", role="pengadministrasi-umum")
    await store.append(f"intake-{case_id}", 0, to_new_events([received], actor=actor))

    response = await client.post(
        f"/cases/{case_id}/disposition", json={"instruction": "Proses"}, headers=auth("ka-bagian")
    )

    assert response.status_code == 409, response.text
    assert "sop_not_installed" in response.text and "0-removed" in response.text
