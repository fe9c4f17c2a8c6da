"""Ask the ledger how a case did against its SOP's standard times, and print it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx


async def case_sla(
    ledger_url: str, case_id: str, token: str, *, within: float = 15.0
) -> dict[str, Any]:
    """Return the ledger's SLA view of a closed case (it follows the events over NATS)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=10.0) as http:
        while True:
            response = await http.get(
                f"{ledger_url}/sla/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 200:
                view: dict[str, Any] = response.json()
                if view["closed_at"] is not None:
                    return view
            elif response.status_code != 404:
                response.raise_for_status()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the ledger has not closed case {case_id} after {within}s")
            await asyncio.sleep(0.2)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def format_sla(view: dict[str, Any]) -> str:
    """Render each step attempt against its standard (working time), then the case total."""
    lines = ["step attempt  role                          used      standard  status    outcome"]
    for a in view["attempts"]:
        used, standard = _duration(a["working_seconds"]), _duration(a["standard_seconds"])
        lines.append(
            f"{a['step']:>4} {a['attempt']:>7}  {a['role']:<28} {used:>8}  {standard:>8}"
            f"  {a['status']:<9} {a['outcome'] or ''}"
        )
    lines.append(
        f"case: {_duration(view['working_seconds'])} of {_duration(view['standard_seconds'])}"
        f" working time, {view['status']}, {view['rework_loops']} rework loop(s),"
        f" {view['breaches']} breach(es)"
    )
    return "\n".join(lines)
