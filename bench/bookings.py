"""Benchmark bookings: 5,000 bookings over a year for 50 people and 40 items, then the feeds.

    python bench/bookings.py [--bookings 5000] [--people 50] [--items 40] [--keep]
    python bench/bookings.py --against ../main [--rounds 3]   # this tree against another

With `--against DIR` (another checkout, e.g. `git worktree add ../main main`), the bench runs
DIR's bench on DIR's sources and this one, alternately, `--rounds` times, and prints the
ratios of this tree's figures to DIR's, round by round and their median: on a shared machine
only figures taken side by side mean something.

Uses DATABASE_URL when set, else the local server (or an embedded one, see
prokopim_devstack.infra). Creates its own database and drops it after (unless --keep).

Each booking is what scheduling does when a step reserves a team, in one transaction: lock
the case's agenda row, check and write the bookings (the exclusion constraint guards them),
place the case on the agenda, look for overlaps on the leader's agenda, append the
ResourcesBooked event. A booking is one person plus one or two items for 1-4 hours on a
working day of 2027; about a tenth clash and are refused (409), as in an office. The
figures: per-booking latency (p50/p95/p99, accepted and refused alike) and the time to
render the feed of the busiest person, of an item and of the whole office.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from prokopim_devstack.infra import running_infra
from prokopim_events.contracts import ResourcesBooked
from prokopim_events.db import connect, create_store_pool
from prokopim_events.envelope import Actor
from prokopim_events.migrations import backbone_migrations, migrate, package_migrations
from prokopim_events.store import EventStore
from prokopim_kit.commands import to_new_events
from prokopim_scheduling import agenda, feeds
from prokopim_scheduling.bookings import BookingClash, CaseRef, Want, Window, arrange

JAKARTA = ZoneInfo("Asia/Jakarta")
YEAR = 2027
TARGET_P95_MS = 20.0
TARGET_FEED_MS = 500.0  # a calendar program polls; half a second per feed is plenty
BUFFER = timedelta(minutes=30)
ACTOR = Actor(id="bench", role="ketua-tim")


@asynccontextmanager
async def database(admin_url: str, keep: bool) -> AsyncIterator[str]:
    name = f"prokopim_bench_bookings_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        if not keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def working_days() -> list[datetime]:
    day, days = datetime(YEAR, 1, 1, tzinfo=JAKARTA), []
    while day.year == YEAR:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


async def register(pool: asyncpg.Pool, people: int, items: int) -> tuple[list[uuid.UUID], ...]:
    now = datetime.now(UTC)
    crew = [uuid.uuid4() for _ in range(people)]
    gear = [uuid.uuid4() for _ in range(items)]
    kinds = ["camera", "camcorder"]
    rows: list[tuple[object, ...]] = [
        (r, "tangerang", "crew", f"Crew {n}", ["tim-liputan"], None, None, 1, now)
        for n, r in enumerate(crew)
    ]
    rows += [
        (r, "tangerang", "equipment", f"Item {n}", [], kinds[n % 2], "available", 1, now)
        for n, r in enumerate(gear)
    ]
    await pool.executemany(
        "INSERT INTO scheduling_resources (resource_id, office, type, name, roles, kind,"
        " condition, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        rows,
    )
    return crew, gear


async def book_one(
    pool: asyncpg.Pool,
    store: EventStore,
    rng: random.Random,
    days: list[datetime],
    crew: list[uuid.UUID],
    gear: list[uuid.UUID],
) -> bool:
    case_id = uuid.uuid4()
    start = rng.choice(days) + timedelta(hours=rng.randint(7, 16), minutes=rng.choice([0, 30]))
    window = Window(start, start + timedelta(hours=rng.randint(1, 4)))
    wants = [Want(rng.choice(crew), "tim-liputan")]
    wants += [Want(item) for item in rng.sample(gear, rng.randint(1, 2))]
    case = CaseRef(case_id, "tangerang", f"Kegiatan {case_id.hex[:6]}")
    now = datetime.now(UTC)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await agenda.lock(conn, case_id)
            change = await arrange(
                conn, case, window, "Pendopo", wants, keep=lambda _: True, buffer=BUFFER, now=now
            )
            placement = agenda.Placement(
                case_id,
                "tangerang",
                "tgr-58-2025",
                "2025.1",
                "pimpinan",
                "Pendopo",
                case.summary,
                window.starts_at,
                window.ends_at,
                False,
            )
            await agenda.place_and_flag(conn, placement, now, "scheduling")
            booked = ResourcesBooked(
                case_id=case_id,
                sop_id="tgr-58-2025",
                sop_version="2025.1",
                bookings=change.booked,
                location="Pendopo",
            )
            events = to_new_events([booked], actor=ACTOR, now=now)
            await store.append(f"scheduling-{case_id}", 0, events, conn=conn)
    except BookingClash:
        return False
    return True


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(database_url: str, args: argparse.Namespace) -> dict[str, object]:
    conn = await connect(database_url)
    try:
        await migrate(
            conn, [*backbone_migrations(), *package_migrations("prokopim_scheduling", "scheduling")]
        )
    finally:
        await conn.close()
    pool = await create_store_pool(database_url, max_size=4)
    store = EventStore(pool)
    try:
        crew, gear = await register(pool, args.people, args.items)
        rng, days = random.Random(15), working_days()
        latencies: list[float] = []
        accepted = 0
        cpu_began = time.process_time()
        for _ in range(args.bookings):
            began = time.perf_counter()
            accepted += await book_one(pool, store, rng, days, crew, gear)
            latencies.append((time.perf_counter() - began) * 1000)
        cpu_ms = (time.process_time() - cpu_began) * 1000 / args.bookings
        busiest = await pool.fetchval(
            "SELECT resource_id FROM scheduling_bookings b JOIN scheduling_resources r"
            " USING (resource_id) WHERE r.type = 'crew' GROUP BY resource_id"
            " ORDER BY count(*) DESC LIMIT 1"
        )
        feed_ms: dict[str, float] = {}
        sizes: dict[str, int] = {}
        cache = feeds.EventCache(20_000)
        targets = [("person", "crew", busiest), ("item", "equipment", gear[0])]
        targets += [("office", "office", None), ("office, again (cached)", "office", None)]
        for label, scope, target in targets:
            began = time.perf_counter()
            async with pool.acquire() as c:
                if scope == "office":
                    entries = await feeds.office_entries(c, "tangerang", 5000)
                else:
                    entries = await feeds.resource_entries(c, target, 5000)
            body = feeds.calendar(f"bench {label}", entries, cache)
            feed_ms[label] = (time.perf_counter() - began) * 1000
            sizes[label] = len(entries)
            assert body.startswith(b"BEGIN:VCALENDAR")
    finally:
        await store.drain()
        await pool.close()
    p95 = percentile(latencies, 0.95)
    print(
        f"bookings: {args.bookings} ({accepted} accepted, {args.bookings - accepted} refused"
        f" as clashes) for {args.people} people and {args.items} items over {YEAR}"
    )
    print(
        f"booking check + write: p50 {statistics.median(latencies):.2f} ms,"
        f" p95 {p95:.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms"
        f"  (target p95 < {TARGET_P95_MS:.0f} ms: {'met' if p95 < TARGET_P95_MS else 'MISSED'})"
    )
    print(
        f"of which this process's own CPU: {cpu_ms:.2f} ms per booking; load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for label, ms in feed_ms.items():
        verdict = "met" if ms < TARGET_FEED_MS else "MISSED"
        print(
            f"feed of the {label}: {sizes[label]} events in {ms:.1f} ms"
            f"  (target < {TARGET_FEED_MS:.0f} ms: {verdict})"
        )
    return {
        "bookings": args.bookings,
        "accepted": accepted,
        "p50_ms": round(statistics.median(latencies), 3),
        "p95_ms": round(p95, 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "target_p95_ms": TARGET_P95_MS,
        "cpu_ms_per_booking": round(cpu_ms, 3),
        "load_average": os.getloadavg()[0],
        "feed_ms": {k: round(v, 1) for k, v in feed_ms.items()},
        "feed_events": sizes,
    }


def one_run(root: Path, sizes: list[str]) -> dict[str, object]:
    """Run `root`'s bench on `root`'s sources in a process of its own; return its figures."""
    sources = [*root.glob("libs/*/src"), *root.glob("services/*/src"), root / "cli" / "src"]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(str(path) for path in sources)}
    bench = root / "bench" / "bookings.py"
    done = subprocess.run(
        [sys.executable, str(bench), *sizes], env=env, capture_output=True, text=True, check=True
    )
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def compare(args: argparse.Namespace) -> None:
    """Run DIR's bench and this one alternately; print this tree's figures over DIR's."""
    here, there = Path(__file__).resolve().parent.parent, Path(args.against).resolve()
    sizes = [f"--bookings={args.bookings}", f"--people={args.people}", f"--items={args.items}"]
    keys = ["p50_ms", "p95_ms", "p99_ms"]
    ratios: dict[str, list[float]] = {key: [] for key in [*keys, "office_feed"]}
    for round_ in range(1, args.rounds + 1):
        peer, mine = one_run(there, sizes), one_run(here, sizes)
        line = []
        for key in keys:
            ratio = float(mine[key]) / float(peer[key])  # type: ignore[arg-type]
            ratios[key].append(ratio)
            line.append(f"{key[:3]} {mine[key]} / {peer[key]} ms = {ratio:.2f}")
        feeds_mine, feeds_peer = mine["feed_ms"], peer["feed_ms"]
        assert isinstance(feeds_mine, dict) and isinstance(feeds_peer, dict)
        ratios["office_feed"].append(feeds_mine["office"] / feeds_peer["office"])
        line.append(f"office feed {feeds_mine['office']} / {feeds_peer['office']} ms")
        print(f"round {round_} (load {os.getloadavg()[0]:.1f}): " + ", ".join(line))
    medians = {key: round(statistics.median(values), 3) for key, values in ratios.items()}
    print(
        f"this tree / {there.name}, median of {args.rounds} rounds (below 1: faster here): "
        + ", ".join(f"{key} {value:.2f}" for key, value in medians.items())
    )
    print(json.dumps({"against": str(there), "median_ratios": medians}))


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bookings", type=int, default=5000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--against", help="another checkout to compare with, side by side")
    parser.add_argument("--rounds", type=int, default=3, help="alternations with --against")
    args = parser.parse_args()
    if args.against:
        await asyncio.to_thread(compare, args)
        return
    with tempfile.TemporaryDirectory() as data_dir:
        async with (
            running_infra(
                Path(data_dir), os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
            ) as infra,
            database(infra.database_url, args.keep) as url,
        ):
            print(json.dumps(await run(url, args)))


if __name__ == "__main__":
    asyncio.run(main())
