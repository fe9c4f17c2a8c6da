"""The ledger as its own process after both SOPs' flows: replay equals live, and the report.

The rebuilt projections (`prokopim replay`, a process of its own) must equal what the
ledger built live from NATS, byte for byte. The monitoring report's counts are the ones
the flows were planned to produce; its medians and 90th percentiles are recomputed here by
pairing each step's completion with the event that entered the step, from the raw log.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prokopim_cli.flows import run_case
from prokopim_cli.trail import case_history
from prokopim_events.db import connect
from prokopim_kit.auth import issue_token
from prokopim_ledger.rebuild import snapshot
from prokopim_ledger.report import percentile
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar

from .conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
TANGERANG = load_catalog().get("tgr-58-2025")
CALENDAR = WorkingCalendar()


async def caught_up(database_url: str) -> None:
    """Wait until the ledger has projected every stored event (and nothing is moving)."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(300):
            events = await conn.fetchval("SELECT count(*) FROM events")
            audited = await conn.fetchval("SELECT count(*) FROM ledger_audit")
            if events == audited:
                await asyncio.sleep(0.5)
                if await conn.fetchval("SELECT count(*) FROM events") == events:
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(f"ledger projected {audited} of {events} events")
    finally:
        await conn.close()


def replay(database_url: str) -> str:
    prokopim = Path(sys.executable).parent / "prokopim"
    done = subprocess.run(
        [str(prokopim), "replay"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def hand_measured(history: list[Any]) -> dict[int, list[float]]:
    """Working seconds per step attempt: from the completion naming the step next to the
    completion of the step itself (step 1 is registered as it is received: 0)."""
    entered: dict[int, datetime] = {}
    took: dict[int, list[float]] = defaultdict(list)
    for event in history:
        if "next_step" not in event.data:
            continue
        step, next_step = event.data["step"], event.data["next_step"]
        start = entered.pop(step, event.occurred_at)
        took[step].append(CALENDAR.working_seconds(start, event.occurred_at))
        if next_step is not None:
            entered[next_step] = event.occurred_at
    return took


async def test_replay_equals_live_and_the_report_adds_up(system: System) -> None:
    bandung = await run_case(system.driver, BANDUNG, activity="Tapping HUT", reject={8: 1})
    tangerang = await run_case(
        system.driver, TANGERANG, activity="Rapat Paripurna", reject={5: 1, 6: 1}
    )
    await caught_up(system.database_url)
    conn = await connect(system.database_url)
    try:
        live = await snapshot(conn)
        output = await asyncio.to_thread(replay, system.database_url)
        rebuilt = await snapshot(conn)
    finally:
        await conn.close()
    assert "events/s" in output
    assert len(live["ledger_cases"]) == 2
    assert rebuilt == live

    today = datetime.now(CALENDAR.zone).date()
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    token = issue_token(system.secret, subject="kabag", role="ka-bagian")
    headers = {"Authorization": f"Bearer {token}"}
    ledger = system.running.urls["ledger"]
    expected = {
        BANDUNG.id: (bandung, {7: 2, 8: 2}, {8: {"Perbaiki draft (langkah 8)": 1}}),
        TANGERANG.id: (
            tangerang,
            {4: 2, 5: 3, 6: 2},
            {5: {"Perbaiki draft (langkah 5)": 1}, 6: {"Perbaiki draft (langkah 6)": 1}},
        ),
    }
    async with httpx.AsyncClient(timeout=10) as http:
        for sop_id, (run, runs, reasons) in expected.items():
            url = f"{ledger}/reports/monitoring?sop_id={sop_id}&{period}"
            report = (await http.get(url, headers=headers)).json()
            took = hand_measured(await case_history(system.database_url, run.case_id))
            for step in report["steps"]:
                number = step["step"]
                assert step["runs"] == runs.get(number, 1), (sop_id, step)
                assert step["rework_loops"] == runs.get(number, 1) - 1, (sop_id, step)
                assert step["rejection_reasons"] == reasons.get(number, {}), (sop_id, step)
                assert step["breaches"] == 0 and step["verdict"] == "berjalan baik"
                assert step["median_seconds"] == pytest.approx(statistics.median(took[number]))
                assert step["p90_seconds"] == pytest.approx(percentile(took[number], 0.9))
            assert report["verdict"] == "berjalan baik"
            sla = (await http.get(f"{ledger}/sla/cases/{run.case_id}", headers=headers)).json()
            assert sla["closed_at"] is not None and sla["status"] == "on-time"
            assert sla["rework_loops"] == len(reasons)
        assert (await http.get(f"{ledger}/sla/cases/{run.case_id}", headers=headers)).json()[
            "standard_seconds"
        ] == 380 * 60
