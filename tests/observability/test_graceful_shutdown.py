"""SIGTERM mid-flow: commands in flight finish, hand-overs wait for the next instance.

Cases are handed from intake to scheduling while both services are told to stop. Whatever
the timing, every command either answered or was never taken (and succeeds when retried
at the new instance), both processes exit cleanly, and every case then runs to its end with
exactly the events of a case that was never interrupted.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import date, timedelta

import asyncpg
import httpx
import pytest
from prokopim_cli.flows import CaseRun, Driver, _do_step, inputs_for, request_body, run_case
from prokopim_cli.trail import case_history
from prokopim_events.envelope import StoredEvent
from prokopim_sop import load_catalog

from .conftest import Launch, Launched

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
CASES = 6


async def register(driver: Driver, index: int) -> str:
    body = request_body(BANDUNG, f"Kegiatan {index}", date.today() + timedelta(days=9))
    created = await driver.call(CaseRun(), "intake", "/cases", BANDUNG.step(1).role, body)
    case_id: str = created["case_id"]
    return case_id


async def dispose(system: Launched, driver: Driver, case_id: str) -> int | str:
    """Give a case's disposition; return the status, or the error if never answered."""
    step = BANDUNG.step(2)
    async with httpx.AsyncClient(timeout=60.0) as http:
        try:
            response = await http.post(
                f"{system.running.urls['intake']}/cases/{case_id}/disposition",
                json={"instruction": "Jadwalkan", "inputs": inputs_for(step)},
                headers={"Authorization": f"Bearer {driver.token(step.role)}"},
            )
        except httpx.TransportError as error:
            return type(error).__name__
    return response.status_code


async def finish(driver: Driver, case_id: str) -> None:
    """Drive a handed-over case from step 3 to the SOP's end."""
    run = CaseRun(case_id=case_id)
    current = BANDUNG.next_after(2)
    while current is not None:
        step = BANDUNG.step(current)
        view = await driver.wait_for_step(step.service.value, case_id, step)
        current = await _do_step(driver, run, BANDUNG, step, view, Counter())


# The outcomes of outside effects (an invitation mailed or not) depend on the mail server and
# on when the effect ran, not on the interruption; the effects' own tests count them exactly.
EFFECT_OUTCOME = re.compile(r"-mail-(sent|failed)\.v\d+$")


def types_of(history: list[StoredEvent]) -> list[str]:
    return [event.type for event in history if not EFFECT_OUTCOME.search(event.type)]


async def test_sigterm_mid_hand_over_loses_nothing(launch: Launch) -> None:
    system = await launch({})
    driver = Driver(system.running.urls, system.secret, wait_within=120.0)
    try:
        cases = [await register(driver, i) for i in range(CASES)]

        # The hand-overs are in flight (commands at intake, events to scheduling) as both stop.
        commands = [asyncio.create_task(dispose(system, driver, case)) for case in cases]
        await asyncio.wait(commands, return_when=asyncio.FIRST_COMPLETED)
        stopped = await asyncio.gather(  # both at once
            asyncio.to_thread(system.terminate, "scheduling"),
            asyncio.to_thread(system.terminate, "intake"),
        )
        answers = await asyncio.gather(*commands)

        assert list(stopped) == [True, True], "a service did not shut down cleanly on SIGTERM"
        assert all(answer == 200 or isinstance(answer, str) for answer in answers), answers

        await asyncio.to_thread(system.restart, "intake", "scheduling")
        for case, answer in zip(cases, answers, strict=True):
            if answer != 200:  # never taken by the stopped instance: the new one takes it
                assert await dispose(system, driver, case) == 200

        await asyncio.gather(*(finish(driver, case) for case in cases))
        reference = await run_case(driver, BANDUNG, activity="Tanpa gangguan")
    finally:
        await driver.close()

    expected = types_of(await case_history(system.database_url, reference.case_id))
    assert expected[-1] == "prokopim.publishing.recording-archived.v1"
    for case in cases:
        assert types_of(await case_history(system.database_url, case)) == expected, case
    conn = await asyncpg.connect(system.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
    finally:
        await conn.close()
