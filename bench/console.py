"""Benchmark the console at office scale: 1,000 open cases, worklist and case page render time.

    python bench/console.py [--cases 1000] [--requests 200] [--keep]

Uses DATABASE_URL / NATS_URL when set, else the local servers (or embedded ones, see
prokopim_devstack.infra). Creates its own database (dropped after unless --keep), seeds N open
cases of both SOPs (`prokopim_ledger.samples`, each stopped at some step, so every role
has a worklist), projects them with the ledger's rebuild, then runs the ledger and the
console as their own processes and times, through the console over HTTP as a signed-in
user, the first page of the busiest role's worklist and the case pages of random cases
(each render includes the console's calls to the ledger's read API).
Prints p50/p95 against the target p95 < 300 ms, and a last line of JSON with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import statistics
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import nats
from prokopim_cli.system import RunningSystem, _executable, start_process, wait_ready
from prokopim_console.accounts import add_user, console_migrations
from prokopim_devstack.infra import running_infra
from prokopim_events.migrations import backbone_migrations, migrate
from prokopim_events.provisioning import provision_bus
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_ledger.projection import ledger_migrations
from prokopim_ledger.rebuild import rebuild
from prokopim_ledger.samples import append_case, sample_case
from prokopim_ledger.sql_config import ensure_for_store
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar
from prokopim_testing.ports import free_port

TARGET_P95_MS = 300.0
SOPS = ("bdg-setda-010-2024", "tgr-58-2025")


async def seed(database_url: str, cases: int) -> tuple[list[str], str]:
    """Append `cases` open cases; return their ids and the role most of them wait for."""
    catalog, calendar = load_catalog(), WorkingCalendar()
    rng = random.Random(14)
    start = datetime.now(ZoneInfo("Asia/Jakarta")) - timedelta(days=20)
    store = await EventStore.connect(database_url, max_size=4)
    ids: list[str] = []
    waiting: Counter[str] = Counter()
    try:
        for n in range(cases):
            sop = catalog.get(SOPS[n % 2])
            begin = calendar.after_working(start, n * 120.0)
            case_id, events = sample_case(sop, rng, begin, calendar, reject_rate=0.2)
            ends = [i for i, (_, e) in enumerate(events) if e.data.get("next_step")]
            cut = ends[rng.randrange(len(ends))]
            await append_case(store, events[: cut + 1])
            ids.append(str(case_id))
            waiting[sop.step(events[cut][1].data["next_step"]).role] += 1
    finally:
        await store.close()
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, [*ledger_migrations(), *console_migrations()])
        await ensure_for_store(conn, catalog, calendar)
        await rebuild(conn, catalog, calendar)
        await add_user(conn, "bench", waiting.most_common(1)[0][0], "bench-password")
    finally:
        await conn.close()
    return ids, waiting.most_common(1)[0][0]


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


async def measure(url: str, ids: list[str], requests: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, "no sign-in form"
        signed = await client.post(
            "/login",
            data={"username": "bench", "password": "bench-password", "csrf": token.group(1)},
        )
        assert signed.status_code == 303, signed.text
        rng = random.Random(3)
        figures: dict[str, float] = {}
        for name, paths in (
            ("worklist", ["/worklist"] * requests),
            ("case_page", [f"/cases/{rng.choice(ids)}" for _ in range(requests)]),
        ):
            await client.get(paths[0])  # warm: SOP cache, connection pools
            samples = []
            rows = 0
            for path in paths:
                began = time.perf_counter()
                response = await client.get(path)
                samples.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                rows = response.text.count("<tr")
            p50, p95 = percentiles(samples)
            figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = p50, p95
            figures[f"{name}_rows"] = rows
    return figures


async def main(cases: int, requests: int, keep: bool) -> None:
    data_dir = Path(os.environ.get("PROKOPIM_BENCH_DATA", tempfile.mkdtemp(prefix="bench-")))
    async with running_infra(
        data_dir, os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    ) as infra:
        name = f"prokopim_bench_console_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(infra.database_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        database_url = infra.database_url.rpartition("/")[0] + f"/{name}"
        system = RunningSystem(urls={})
        # the ledger waits for its durable, which the relay (not run here) creates: do it
        topology = Topology(namespace=f"bench{uuid.uuid4().hex[:6]}")
        bus = await nats.connect(infra.nats_url)
        try:
            await provision_bus(bus.jetstream(), topology)
            conn = await asyncpg.connect(database_url)
            await migrate(conn, backbone_migrations())
            await conn.close()
            began = time.perf_counter()
            ids, role = await seed(database_url, cases)
            print(f"seeded {cases} open cases in {time.perf_counter() - began:.1f}s")
            ports = {"ledger": free_port(), "console": free_port()}
            env = {
                **os.environ,
                "DATABASE_URL": database_url,
                "NATS_URL": infra.nats_url,
                "PROKOPIM_NAMESPACE": topology.namespace,
                "JWT_SECRET": secrets.token_urlsafe(40),
                "LEDGER_URL": f"http://127.0.0.1:{ports['ledger']}",
                "LOG_LEVEL": "WARNING",
            }
            for service, port in ports.items():
                system.urls[service] = f"http://127.0.0.1:{port}"
                start_process(
                    system,
                    service,
                    [_executable(f"prokopim-{service}")],
                    {**env, "PORT": str(port)},
                    data_dir / "logs",
                )
            await asyncio.to_thread(wait_ready, system, 120.0)
            figures = await measure(system.urls["console"], ids, requests)
        finally:
            await asyncio.to_thread(system.stop)
            for stream in (topology.stream, topology.dead_letter_stream):
                with contextlib.suppress(Exception):  # never created
                    await bus.jetstream().delete_stream(stream)
            await bus.close()
            if not keep:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
    print(f"open cases: {cases}; signed in as role {role}; {requests} requests per page")
    for page in ("worklist", "case_page"):
        p50, p95 = figures[f"{page}_p50_ms"], figures[f"{page}_p95_ms"]
        verdict = "meets" if p95 < TARGET_P95_MS else "MISSES"
        print(
            f"{page:<10} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({verdict} p95 < {TARGET_P95_MS:.0f}"
            f" ms; {figures[f'{page}_rows']:.0f} table rows)"
        )
    print(json.dumps({"cases": cases, "requests": requests, "role": role, **figures}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.requests, args.keep))
