"""A case is created once: `Idempotency-Key` replays, and one letter number per office."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prokopim_events.store import EventStore

from .conftest import Auth
from .test_api import (
    TANGERANG,
    event_count,
    letter,
)

pytestmark = pytest.mark.integration
CLERK = "pengadministrasi-umum"
TGR_CLERK = "pengadministrasi-perkantoran"


async def test_a_retried_post_with_the_same_key_returns_the_first_answer(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    body = letter()
    headers = {**auth(CLERK), "Idempotency-Key": "retry-1"}
    first = await client.post("/cases", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/cases", json=body, headers=headers)

    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert await event_count(store) == 1


async def test_the_same_key_with_another_body_is_422_naming_the_key(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    headers = {**auth(CLERK), "Idempotency-Key": "retry-2"}
    first = await client.post("/cases", json=letter(), headers=headers)
    assert first.status_code == 201
    other = await client.post("/cases", json=letter(subject="Lain"), headers=headers)

    assert other.status_code == 422
    assert other.json()["error"] == "idempotency_key_reused"
    assert other.json()["key"] == "retry-2" and "retry-2" in other.json()["detail"]
    assert await event_count(store) == 1


async def test_concurrent_retries_with_one_key_create_one_case(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    body, headers = letter(), {**auth(CLERK), "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *(client.post("/cases", json=body, headers=headers) for _ in range(10))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["case_id"] for r in responses}) == 1
    assert await event_count(store) == 1


async def test_twenty_concurrent_posts_of_one_letter_give_one_case_and_409s_naming_it(
    auth: Auth, client: httpx.AsyncClient, store: EventStore
) -> None:
    body = letter(letter_number="005/77/SETDA")
    responses = await asyncio.gather(
        *(client.post("/cases", json=body, headers=auth(CLERK)) for _ in range(20))
    )

    created = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code == 409]
    assert len(created) == 1 and len(refused) == 19
    case_id = created[0].json()["case_id"]
    for response in refused:
        error = response.json()
        assert error["error"] == "duplicate_letter" and error["case_id"] == case_id
        assert error["field"] == "letter_number" and case_id in error["detail"]
    assert await event_count(store) == 1


async def test_the_same_letter_number_in_another_office_is_its_own_case(
    auth: Auth, client: httpx.AsyncClient
) -> None:
    number = "005/78/SETDA"
    first = await client.post("/cases", json=letter(letter_number=number), headers=auth(CLERK))
    other = await client.post(
        "/cases", json=letter(TANGERANG, letter_number=number), headers=auth(TGR_CLERK)
    )
    assert (first.status_code, other.status_code) == (201, 201), other.text
