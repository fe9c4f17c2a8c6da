"""The local website stand-in of `prokopim up` and the fault drill: one post per key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from prokopim_cli.localsinks import local_sinks


async def test_a_repeated_post_with_its_idempotency_key_is_answered_not_stored_again(
    tmp_path: Path,
) -> None:
    with local_sinks(tmp_path) as sinks:
        url = sinks["WEBSITE_URL"]
        async with httpx.AsyncClient() as http:

            async def post(n: int, key: str) -> str:
                answer = await http.post(url, json={"n": n}, headers={"Idempotency-Key": key})
                answer.raise_for_status()
                link: str = answer.json()["url"]
                return link

            first = await asyncio.gather(*(post(n, f"key-{n}") for n in range(20)))
            repeated = await asyncio.gather(*(post(n, f"key-{n}") for n in range(20)))
            unkeyed = await http.post(url, json={"n": "no key"})

    assert repeated == first
    assert len(set(first)) == 20
    assert unkeyed.status_code == 201
    assert len(list((tmp_path / "website").glob("*.json"))) == 21
