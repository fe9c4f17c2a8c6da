"""Bookings end to end: a case cancelled at scheduling stops its SLA clocks at the ledger and
takes no more commands in any service; cases registered at intake for the same day are
flagged on the leader's agenda."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta

import asyncpg
import httpx
import pytest
from prokopim_cli.flows import CaseRun, _do_step, inputs_for, request_body
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
    await driver.wait_for_step("production", second, TANGERANG.step(4))
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


def refused_as_cancelled(response: httpx.Response, case_id: str, reason: str) -> None:
    assert response.status_code == 409, response.text
    problem = response.json()
    assert (problem["error"], problem["case_id"], problem["reason"]) == (
        "case_cancelled",
        case_id,
        reason,
    )
    assert f"case {case_id} was cancelled" in problem["detail"]


async def test_a_cancelled_case_takes_no_more_commands_and_its_clock_stays_stopped(
    system: System,
) -> None:
    driver, day = system.driver, date.today() + timedelta(days=21)
    team = await driver.team(TANGERANG, CaseRun())
    at_production = await at_step_3(system, "Rapat Koordinasi", day)
    at_review = await at_step_3(system, "Musrenbang", day)
    role, step3, step4 = TANGERANG.step(3).role, TANGERANG.step(3), TANGERANG.step(4)
    for n, case_id in enumerate((at_production, at_review)):
        member = {"name": "Budi", "role": team.role, "member_id": team.member_id}
        assign = {"assignments": [member], "inputs": inputs_for(step3), "location": "Pendopo"}
        assign |= {"starts_at": f"{day.isoformat()}T{9 + 4 * n:02d}:00:00+07:00"}
        await driver.call(CaseRun(), "scheduling", f"/cases/{case_id}/assignments", role, assign)
        await driver.wait_for_step("production", case_id, step4)
    await _do_step(driver, CaseRun(case_id=at_review), TANGERANG, step4, {}, Counter())
    await driver.wait_for_step("review", at_review, TANGERANG.step(5))
    reason = "Kegiatan ditiadakan"
    token = driver.token("kepala-bagian")
    for case_id in (at_production, at_review):
        await driver.call(
            CaseRun(), "scheduling", f"/cases/{case_id}/cancel", role, {"reason": reason}
        )
    before = await case_sla(system.running.urls["ledger"], at_production, token, within=60)

    # production's step 4 (equipment, then the draft that would hand it on) and review's 5
    checklist = {"checklist": {item.id: True for item in step4.inputs}}
    path = f"/cases/{at_production}/equipment"
    equipment = await driver.post("production", path, step4.role, checklist)
    refused_as_cancelled(equipment, at_production, reason)
    draft = {"files": [{"kind": "video", "ref": "ref://x.mp4"}], "inputs": inputs_for(step4)}
    drafted = await driver.post("production", f"/cases/{at_production}/drafts", step4.role, draft)
    refused_as_cancelled(drafted, at_production, reason)
    step5 = TANGERANG.step(5)
    decision = {"decision": "approve", "draft_version": 1, "inputs": inputs_for(step5)}
    reviewed = await driver.post("review", f"/cases/{at_review}/decisions", step5.role, decision)
    refused_as_cancelled(reviewed, at_review, reason)
    moved = {"starts_at": f"{day.isoformat()}T15:00:00+07:00", "reason": "Diundur"}
    rescheduled = await driver.post("scheduling", f"/cases/{at_review}/reschedule", role, moved)
    refused_as_cancelled(rescheduled, at_review, reason)

    # nothing was appended: the ledger's clocks of the case stay stopped at the cancellation
    conn = await asyncpg.connect(system.database_url)
    try:
        streams = [f"{s}-{at_production}" for s in ("production", "review", "publishing")]
        after_cancel = await conn.fetchval(
            "SELECT count(*) FROM events WHERE stream_id = ANY($1) AND occurred_at >"
            " (SELECT occurred_at FROM events WHERE stream_id = $2 AND type = $3)",
            streams,
            f"scheduling-{at_production}",
            "prokopim.scheduling.case-cancelled.v1",
        )
    finally:
        await conn.close()
    assert after_cancel == 0
    again = await case_sla(system.running.urls["ledger"], at_production, token, within=60)
    assert again["closed_at"] == before["closed_at"] is not None
    assert again["attempts"] == before["attempts"]
    assert [(a["step"], a["outcome"]) for a in again["attempts"]][-1] == (4, "cancelled")
