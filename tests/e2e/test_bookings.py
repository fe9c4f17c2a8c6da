"""Bookings end to end: a case cancelled at scheduling stops its SLA clocks at the ledger;
cases registered at intake for the same day are flagged on the leader's agenda."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import asyncpg
import pytest
from prokopim_cli.flows import CaseRun, inputs_for, request_body
from prokopim_cli.sla import case_sla
from prokopim_sop import load_catalog

from .conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TANGERANG = load_catalog().get("tgr-58-2025")
FLAG = "prokopim.scheduling.agenda-overlap-flagged.v1"


async def at_step_3(system: System, activity: str, day: date) -> str:
    driver, run = system.driver, CaseRun()
    body = request_body(TANGERANG, activity, day)
    created = await driver.call(run, "intake", "/cases", TANGERANG.step(1).role, body)
    case_id: str = created["case_id"]
    step2 = TANGERANG.step(2)
    disposition = {"instruction": "Liput", "inputs": inputs_for(step2)}
    await driver.call(run, "intake", f"/cases/{case_id}/disposition", step2.role, disposition)
    await driver.wait_for_step("scheduling", case_id, TANGERANG.step(3))
    return case_id


async def test_a_cancelled_case_stops_its_clocks_and_frees_its_team(system: System) -> None:
    driver, day = system.driver, date.today() + timedelta(days=20)
    team = await driver.team(TANGERANG, CaseRun())
    first = await at_step_3(system, "Rapat Paripurna", day)
    second = await at_step_3(system, "Kunjungan Kerja", day)
    start = f"{day.isoformat()}T09:00:00+07:00"
    member = {"name": "Budi", "role": team.role, "member_id": team.member_id}
    assign = {"assignments": [member], "inputs": inputs_for(TANGERANG.step(3))}
    assign |= {"starts_at": start, "location": "Pendopo"}
    role = TANGERANG.step(3).role

    await driver.call(CaseRun(), "scheduling", f"/cases/{second}/assignments", role, assign)
    clash = await driver.post("scheduling", f"/cases/{first}/assignments", role, assign)
    assert clash.status_code == 409 and clash.json()["clashing_case_id"] == second
    cancel = {"reason": "Acara dibatalkan oleh penyelenggara"}
    await driver.call(CaseRun(), "scheduling", f"/cases/{second}/cancel", role, cancel)
    again = await driver.post("scheduling", f"/cases/{first}/assignments", role, assign)
    assert again.status_code == 200, again.text

    # the cancelled case was waiting for production's step 4: that clock stops now
    token = driver.token("kepala-bagian")
    sla = await case_sla(system.running.urls["ledger"], second, token, within=60)
    last = sla["attempts"][-1]
    assert (last["step"], last["outcome"]) == (4, "cancelled")
    assert last["reason"] == "Acara dibatalkan oleh penyelenggara"

    conn = await asyncpg.connect(system.database_url)
    try:
        for _ in range(100):
            flagged = await conn.fetch(
                "SELECT data FROM events WHERE type = $1 AND stream_id = $2",
                FLAG,
                f"scheduling-agenda-{second}",
            )
            if flagged:
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    assert flagged, "the second same-day case was not flagged at intake"
