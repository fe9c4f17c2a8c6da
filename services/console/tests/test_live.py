"""Live updates wait for the ledger: a case is announced once its event is projected."""

from __future__ import annotations

import asyncio

import pytest
from prokopim_console.live import Live

pytestmark = pytest.mark.unit


async def test_a_change_is_announced_only_once_the_ledger_has_projected_it() -> None:
    projected = 3

    async def ledger_position() -> int:
        return projected

    live = Live(ledger_position, wait_seconds=60.0, limit=2)
    pump = asyncio.create_task(live.run())
    try:
        with live.listener() as queue:
            live.note("case-a", 5)
            await asyncio.sleep(0.3)
            assert queue.empty()  # the ledger is still at 3: a refresh now would show old state
            projected = 5
            change = await asyncio.wait_for(queue.get(), 5)
            assert change == {"case_id": "case-a", "position": 5}
    finally:
        pump.cancel()


async def test_an_unreachable_ledger_delays_a_change_by_the_wait_at_most() -> None:
    async def ledger_down() -> int:
        raise ConnectionError("ledger restarting")

    live = Live(ledger_down, wait_seconds=0.2, limit=2)
    pump = asyncio.create_task(live.run())
    try:
        with live.listener() as queue:
            live.note("case-b", 9)
            assert (await asyncio.wait_for(queue.get(), 5))["case_id"] == "case-b"
    finally:
        pump.cancel()


def test_streams_beyond_the_limit_are_refused() -> None:
    async def never() -> int:
        return 0

    live = Live(never, wait_seconds=1.0, limit=1)
    with live.listener():
        assert live.full
        with pytest.raises(RuntimeError), live.listener():
            pass
    assert not live.full


async def test_the_ledger_is_not_asked_while_no_page_listens() -> None:
    asked = 0

    async def ledger_position() -> int:
        nonlocal asked
        asked += 1
        return 10

    live = Live(ledger_position, wait_seconds=60.0, limit=2)
    pump = asyncio.create_task(live.run())
    try:
        live.note("case-c", 7)
        await asyncio.sleep(0.3)
        assert asked == 0  # no stream open: nothing to announce, no GET /position
        with live.listener() as queue:  # a page opening its stream still hears of it
            change = await asyncio.wait_for(queue.get(), 5)
            assert change == {"case_id": "case-c", "position": 7}
        assert asked >= 1
    finally:
        pump.cancel()
