"""Many concurrent cases through every fault an installation meets; nothing lost or doubled.

One system (relay, standby relay, six services as processes) on this test's own nats-server
and a cuttable PostgreSQL proxy. Cases start in waves; during each wave one fault strikes:
the relay killed, JetStream wiped (stream deleted and recreated), NATS stopped, the relay
hung (SIGSTOP), PostgreSQL cut, each service SIGKILLed and restarted, an oversized event in
the store. Afterwards every case has completed with exactly the events of an undisturbed case
of its SOP, the website (the local stand-in) holds exactly its posts and the mail server (the
local SMTP sink) exactly its mails, the ledger holds the same events as the store, and
`verify` passes. A table per fault is printed (run with -s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import mailbox
import os
import re
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import nats
import pytest
from prokopim_cli.flows import CaseRun, Driver, run_case
from prokopim_cli.localsinks import local_sinks
from prokopim_cli.system import SERVICES, RunningSystem, start_process, start_system
from prokopim_events.db import connect
from prokopim_events.envelope import NewEvent
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_events.verify import verify_store
from prokopim_sop import load_catalog
from prokopim_testing.ports import free_port

from .rig import LONG, NATS_OUTAGE, PG_OUTAGE, NatsServer, PgProxy, proxy_for

pytestmark = [pytest.mark.faults, pytest.mark.e2e]

SOPS = {"bdg-setda-010-2024": {8: 1}, "tgr-58-2025": {5: 1, 6: 1}}  # rejections per step
CASES_PER_FAULT = int(os.environ.get("PROKOPIM_FAULT_CASES", "4"))
# Events a case gets or not depending on time, not on faults: SLA alerts of the ledger.
# Not counted against the undisturbed case: SLA alerts (they depend on timing) and the
# outcomes of outside effects (mail sent or failed: they depend on the mail server, and a
# fault may make an effect wait and retry; the effects' own tests count those exactly).
TIMING_TYPES = re.compile(
    r"^prokopim\.sla\.|^prokopim\.[a-z]+\.(outlet-mail|invitation-mail|handover-notice-mail)"
)
BIN = Path(sys.executable).parent
KILLED_SERVICES = ("intake", "scheduling", "production", "review", "publishing", "ledger")


class PatientDriver(Driver):
    """A driver that waits out a 503 (the database away) and a service that is down or
    restarting, as a client told Retry-After does; it registers each case with an
    Idempotency-Key, so a repeated registration answers the first answer."""

    def __init__(self, urls: dict[str, str], secret: str, *, within: float) -> None:
        super().__init__(urls, secret, wait_within=within)
        self.within = within
        self.unavailable = 0
        self.unreachable = 0
        self.repeats_found_done = 0
        # commands whose outcome is unknown (a connection broke mid-request or mid-commit):
        # a repeat that finds the step done (409) is that command having taken effect
        self._uncertain: set[str] = set()
        self._keys: dict[int, str] = {}

    async def _send(
        self, service: str, path: str, role: str, body: Any, headers: dict[str, str]
    ) -> httpx.Response:
        deadline = time.monotonic() + self.within
        while True:
            try:
                response = await self._http.post(
                    f"{self.urls[service]}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {self.token(role)}", **headers},
                )
            except httpx.TransportError:
                # down or restarting; a request cut off in flight may have taken effect
                self._uncertain.add(path)
                self.unreachable += 1
            else:
                if response.status_code != 503:
                    return response
                if "may or may not" in response.text:
                    self._uncertain.add(path)
                self.unavailable += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service} {path}: unavailable for {self.within}s")
            await asyncio.sleep(0.5)

    async def post(self, service: str, path: str, role: str, body: Any) -> httpx.Response:
        response = await self._send(service, path, role, body, {})
        repeated = response.status_code == 409 and path in self._uncertain
        if repeated and response.json().get("error") != "booking_clash":
            self.repeats_found_done += 1
            return httpx.Response(200, json={})
        return response

    async def call(
        self, run: CaseRun, service: str, path: str, role: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if path == "/cases":  # one key per case run: a retry answers the first answer
            key = self._keys.setdefault(id(run), uuid4().hex)
            response = await self._send(service, path, role, body or {}, {"Idempotency-Key": key})
        else:
            response = await self.post(service, path, role, body or {})
        run.calls.append((service, path, response.status_code))
        if response.status_code >= 400:
            raise RuntimeError(f"{service} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    async def case_view(self, service: str, case_id: str, role: str) -> dict[str, Any] | None:
        try:
            return await super().case_view(service, case_id, role)
        except httpx.TransportError:
            self.unreachable += 1
            return None  # restarting
        except httpx.HTTPStatusError as error:
            if error.response.status_code == 503:
                return None
            raise


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, to stop and start."""
    server = NatsServer(tmp_path / "nats-store", tmp_path / "nats.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def pg_proxy(database_url: str) -> AsyncIterator[PgProxy]:
    """A proxy to this test's PostgreSQL, to cut and restore."""
    proxy = proxy_for(database_url)
    await proxy.start()
    yield proxy
    await proxy.cut()


@dataclass
class Wave:
    """The cases started while one fault struck (`start` is the fault's to call)."""

    fault: str
    launch: Callable[[Wave], None]
    tasks: list[asyncio.Task[CaseRun]] = field(default_factory=list)
    sops: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.launch(self)


@dataclass
class Rig:
    running: RunningSystem
    env: dict[str, str]
    log_dir: Path
    direct_url: str
    nats: NatsServer
    proxy: PgProxy
    topology: Topology
    relay_metrics: dict[str, int]
    sinks: Path
    db: asyncpg.Pool  # the test's own, opened once: other tests may fill PostgreSQL meanwhile

    async def start_relay(self, name: str) -> None:
        """Start a relay process and wait until it is up (connected to NATS and PostgreSQL).

        A relay that cannot reach NATS at start-up exits after NATS_CONNECT_TIMEOUT_SECONDS
        for its orchestrator to restart it; here nobody would, so the next fault waits.
        """
        env = {
            **os.environ,
            **self.env,
            "METRICS_PORT": str(self.relay_metrics[name]),
            # names its sessions in pg_stat_activity
            "DATABASE_URL": f"{self.env['DATABASE_URL']}?application_name={name}",
        }
        start_process(self.running, name, [str(BIN / "prokopim-relay")], env, self.log_dir)
        process = self.running.processes[name]
        conn = await connect(self.direct_url)
        try:

            async def up() -> bool:
                assert process.poll() is None, self.running.log_tail(name)
                # its store pool and its lease connection: both come after NATS answered
                sessions: int = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", name
                )
                return sessions >= 2

            await eventually(up, f"{name} is up", 60)
        finally:
            await conn.close()

    async def restart_service(self, name: str) -> None:
        """Start a killed service again as start_system did; wait until it is ready."""
        urls = {f"{n.upper()}_URL": url for n, url in self.running.urls.items()}
        port = self.running.urls[name].rpartition(":")[2]
        env = {**os.environ, **self.env, "PORT": port, "HOST": "127.0.0.1", **urls}
        start_process(self.running, name, [str(BIN / f"prokopim-{name}")], env, self.log_dir)
        process = self.running.processes[name]
        async with httpx.AsyncClient(timeout=2.0) as http:

            async def ready() -> bool:
                assert process.poll() is None, self.running.log_tail(name)
                with contextlib.suppress(httpx.HTTPError):
                    return (await http.get(f"{self.running.urls[name]}/readyz")).status_code == 200
                return False

            await eventually(ready, f"{name} is ready again after its restart", 120)

    async def head(self) -> int:
        """The store's head position."""
        head: int = await self.db.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
        return head

    async def leader(self) -> str:
        """The name of the relay process holding the lease (waits until one does)."""
        deadline = time.monotonic() + 60
        while True:
            holder = await self.db.fetchval(
                "SELECT holder FROM relay_leases WHERE expires_at > now()"
            )
            if holder:
                pid = int(holder.rpartition(":")[2])
                for name, process in self.running.processes.items():
                    if process.pid == pid and process.poll() is None:
                        return name
            assert time.monotonic() < deadline, "no relay holds the lease"
            await asyncio.sleep(0.1)

    async def relay_lag(self, name: str) -> float:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{self.relay_metrics[name]}/metrics")).text
        match = re.search(r"^prokopim_relay_lag_events (\S+)$", text, re.MULTILINE)
        assert match, text[:500]
        return float(match.group(1))


async def eventually(check: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {within}s waiting until {what}"
        await asyncio.sleep(0.2)


async def history(conn: asyncpg.Connection, case_id: str) -> tuple[Counter[str], list[str]]:
    rows = await conn.fetch(
        "SELECT event_id::text, type FROM events WHERE data->>'case_id' = $1", case_id
    )
    types = Counter(r["type"] for r in rows if not TIMING_TYPES.match(r["type"]))
    return types, sorted(r["event_id"] for r in rows)


@pytest.mark.timeout(NATS_OUTAGE + PG_OUTAGE + 500 if LONG else 420)
async def test_every_case_completes_exactly_once_through_every_fault(
    database_url: str, nats_server: NatsServer, pg_proxy: PgProxy, tmp_path: Path
) -> None:
    topology = Topology(namespace=f"f{secrets.token_hex(5)}")
    secret = secrets.token_urlsafe(40)
    with local_sinks(tmp_path / "sinks") as sinks:
        env = {
            "DATABASE_URL": pg_proxy.url(database_url),
            "NATS_URL": nats_server.url,
            "PROKOPIM_NAMESPACE": topology.namespace,
            "JWT_SECRET": secret,
            "ARCHIVE_DIR": str(tmp_path / "archive"),
            **sinks,
            # Settings under which the old behaviour fails fast: 60 reconnect attempts pass
            # in six seconds, a relay lease is short, consumers give up after 3 attempts.
            "NATS_RECONNECT_WAIT_SECONDS": "0.1",
            "NATS_PING_INTERVAL_SECONDS": "2",
            "RELAY_LEASE_SECONDS": "3",
            "RELAY_ACK_TIMEOUT_SECONDS": "2",
            "RELAY_STREAM_CHECK_SECONDS": "1",
            "CONSUMER_MAX_ATTEMPTS": "3",
            "CONSUMER_RETRY_CAP_SECONDS": "2",
            "RETRY_AFTER_SECONDS": "1",
            # seven processes on a PostgreSQL of 100 connections that other tests share
            "DATABASE_POOL_SIZE": "3",
            "STORE_POOL_SIZE": "2",
            "LOG_LEVEL": "INFO",
        }
        relay_metrics = {"relay": free_port(), "relay-2": free_port()}
        ports = {name: free_port() for name in SERVICES}
        log_dir = tmp_path / "logs"
        running = await asyncio.to_thread(
            start_system,
            {**env, "METRICS_PORT": str(relay_metrics["relay"])},
            log_dir,
            ports=ports,
            ready_within=180,  # a loaded CI machine starts six services slowly
        )
        db = await asyncpg.create_pool(database_url, min_size=2, max_size=2)
        rig = Rig(
            running,
            env,
            log_dir,
            database_url,
            nats_server,
            pg_proxy,
            topology,
            relay_metrics,
            tmp_path / "sinks",
            db,
        )
        driver = PatientDriver(running.urls, secret, within=NATS_OUTAGE + PG_OUTAGE + 120)
        try:
            await rig.start_relay("relay-2")  # a standby, for the hung relay
            report = await _run_faults(rig, driver)
        finally:
            await driver.close()
            for process in running.processes.values():  # a stopped relay cannot stop
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)
            await asyncio.to_thread(running.stop)
            await db.close()
    print("\n" + report)


async def _run_faults(rig: Rig, driver: PatientDriver) -> str:
    catalog = load_catalog()
    sops = {sop_id: catalog.get(sop_id) for sop_id in SOPS}
    expected: dict[str, Counter[str]] = {}
    expected_effects: dict[str, Effects] = {}
    waves: list[Wave] = []
    conn = await connect(rig.direct_url)
    try:
        await _register_outlets(driver, rig.running.urls["publishing"])
        for sop_id, sop in sops.items():  # an undisturbed case of each SOP: what to expect
            run = await run_case(driver, sop, reject=SOPS[sop_id])
            expected[sop_id], _ = await history(conn, run.case_id)
            deliveries = await _settled_deliveries(conn, run.case_id)
            expected_effects[sop_id] = Effects(deliveries, *_sent(rig.sinks, run.case_id))
        assert all(e.posts + e.mails for e in expected_effects.values()), expected_effects

        def launch(current: Wave) -> None:
            for n in range(CASES_PER_FAULT):
                sop_id = list(SOPS)[n % len(SOPS)]
                activity = f"{current.fault} {n}"
                run = run_case(driver, sops[sop_id], reject=SOPS[sop_id], activity=activity)
                current.tasks.append(asyncio.create_task(run))
                current.sops.append(sop_id)

        def wave(fault: str) -> Wave:
            waves.append(Wave(fault, launch))
            return waves[-1]

        await _kill_relay(rig, wave("relay killed"))
        await _wipe_jetstream(rig, wave("JetStream wiped"))
        await _stop_nats(rig, wave(f"NATS stopped {NATS_OUTAGE:g} s"))
        await _hang_relay(rig, wave("relay hung (SIGSTOP)"))
        await _cut_postgres(rig, wave(f"PostgreSQL cut {PG_OUTAGE:g} s"))
        await _kill_services(rig, wave("each service killed"))
        await _oversized_event(rig, conn, wave("oversized event"))

        columns = ("cases", "events", "posts", "mails", "duplicates", "lost")
        lines = [f"{'fault':<28}" + "".join(f" {c:>{max(len(c), 6)}}" for c in columns)]
        failures = []
        for current in waves:
            done = await asyncio.gather(*current.tasks, return_exceptions=True)
            events = posts = mails = duplicates = lost = 0
            for sop_id, outcome in zip(current.sops, done, strict=True):
                if isinstance(outcome, BaseException):
                    failures.append(f"{current.fault}: {outcome!r}")
                    continue
                got, _ = await history(conn, outcome.case_id)
                events += sum(got.values())
                duplicates += sum((got - expected[sop_id]).values())
                lost += sum((expected[sop_id] - got).values())
                want = expected_effects[sop_id]
                deliveries = await _settled_deliveries(conn, outcome.case_id, want.deliveries)
                if deliveries != want.deliveries:
                    failures.append(f"{current.fault}: {outcome.case_id} {deliveries} effects")
                case_posts, case_mails = _sent(rig.sinks, outcome.case_id)
                posts += case_posts
                mails += case_mails
                for have, should in ((case_posts, want.posts), (case_mails, want.mails)):
                    duplicates += max(0, have - should)
                    lost += max(0, should - have)
            counts = (len(current.tasks), events, posts, mails, duplicates, lost)
            lines.append(
                f"{current.fault:<28}"
                + "".join(f" {n:>{max(len(c), 6)}}" for c, n in zip(columns, counts, strict=True))
            )
            assert (duplicates, lost) == (0, 0), "\n".join(lines)
        report = "\n".join(lines)
        assert not failures, f"{report}\n" + "\n".join(failures)
        await _ledger_agrees(conn, [t.result().case_id for w in waves for t in w.tasks])
        verified = await verify_store(conn)
        assert verified.ok, verified.summary()
        per_case = ", ".join(
            f"{sop_id}: {e.posts} posts, {e.mails} mails" for sop_id, e in expected_effects.items()
        )
        return (
            f"{report}\nper undisturbed case: {per_case}\n503 answers waited out:"
            f" {driver.unavailable}; requests to a service down: {driver.unreachable}"
            f" (a repeat found the command done: {driver.repeats_found_done});"
            f" {verified.summary()}"
        )
    finally:
        for task in (task for current in waves for task in current.tasks):
            task.cancel()  # a fault that failed leaves cases behind: not past the driver
        await conn.close()


async def _register_outlets(driver: PatientDriver, publishing: str) -> None:
    """Two media outlets, so that every Tangerang publication mails two press releases."""
    headers = {"Authorization": f"Bearer {driver.token('kepala-bagian')}"}
    async with httpx.AsyncClient(base_url=publishing, headers=headers) as http:
        for name in ("Tangerang Pos", "Radar Banten"):
            email = f"redaksi@{name.lower().replace(' ', '')}.example"
            response = await http.post("/outlets", json={"name": name, "email": email})
            assert response.status_code == 201, response.text


@dataclass(frozen=True)
class Effects:
    """A case's outside effects: its delivery records, website posts and mails received."""

    deliveries: int
    posts: int
    mails: int


async def _settled_deliveries(
    conn: asyncpg.Connection, case_id: str, expected: int | None = None
) -> int:
    """The number of a case's effects once none is in flight or waiting to be retried.

    With `expected` (from an undisturbed case): once that many are recorded, or after a
    minute. Without: once the count has stayed the same, none pending, for two seconds
    (an undisturbed case's last effects follow its last step).
    """
    query = (
        "SELECT count(*), count(*) FILTER (WHERE state IN ('sending', 'retrying')) FROM ("
        " SELECT state FROM publishing_deliveries WHERE case_id = $1::uuid UNION ALL"
        " SELECT state FROM scheduling_deliveries WHERE case_id = $1::uuid) effects"
    )
    deadline = time.monotonic() + 60
    seen: list[int] = []
    while True:
        row = await conn.fetchrow(query, case_id)
        assert row is not None
        total, pending = row
        seen = [*seen[-3:], total] if not pending else []
        if expected is not None and (total, pending) == (expected, 0):
            return int(total)
        if expected is None and len(seen) == 4 and len(set(seen)) == 1 and total:
            return int(total)
        if time.monotonic() > deadline:
            return int(total)
        await asyncio.sleep(0.5)


def _sent(sinks: Path, case_id: str) -> tuple[int, int]:
    """The website posts and the mails of a case that the local stand-ins received."""
    posts = sum(
        1
        for path in (sinks / "website").glob("*.json")
        if json.loads(path.read_bytes()).get("case_id") == case_id
    )
    maildir = mailbox.Maildir(sinks / "mail", create=False)
    mails = sum(1 for message in maildir if message["X-Prokopim-Case"] == case_id)
    return posts, mails


async def _kill_relay(rig: Rig, wave: Wave) -> None:
    wave.start()
    await asyncio.sleep(1.0)  # the wave's cases are under way
    leader = await rig.leader()
    rig.running.processes[leader].kill()
    rig.running.processes[leader].wait()
    await rig.start_relay(leader)


async def _wipe_jetstream(rig: Rig, wave: Wave) -> None:
    wave.start()
    await asyncio.sleep(1.0)  # the wave's cases are under way
    nc = await nats.connect(rig.nats.url)
    try:
        js = nc.jetstream()
        await js.delete_stream(rig.topology.stream)  # every consumer goes with it
    finally:
        await nc.close()


async def _stop_nats(rig: Rig, wave: Wave) -> None:
    await asyncio.to_thread(rig.nats.stop)
    started = time.monotonic()
    cpu_before = {name: _cpu_seconds(p.pid) for name, p in rig.running.processes.items()}
    head_at_stop = await rig.head()
    # This wave's cases register while NATS is away (PostgreSQL is up): a backlog the lag
    # must show. (Cases started before the stop may all be waiting for a hand-over then,
    # storing nothing: a wave started a second earlier made this check depend on timing.)
    wave.start()
    async with _prober(10.0) as http:

        async def lag_shows_backlog() -> bool:
            stored = await rig.head() - head_at_stop  # none of it can be published
            lags = [await rig.relay_lag(name) for name in rig.relay_metrics]
            return stored > 0 and all(lag >= stored for lag in lags)

        await eventually(
            lag_shows_backlog, "every relay's lag counts the events stored since NATS stopped", 30
        )
        while time.monotonic() - started < NATS_OUTAGE:
            for name, url in rig.running.urls.items():
                alive = await http.get(f"{url}/healthz")
                assert alive.status_code == 200, f"{name} /healthz during the NATS outage"
                ready = await http.get(f"{url}/readyz")
                assert ready.status_code == 503, f"{name} ready without NATS"
            for name, process in rig.running.processes.items():
                assert process.poll() is None, f"{name} died:\n{rig.running.log_tail(name)}"
            await asyncio.sleep(min(5.0, NATS_OUTAGE / 4))
        cpu = {name: _cpu_seconds(p.pid) for name, p in rig.running.processes.items()}
        spent = time.monotonic() - started
        await asyncio.to_thread(rig.nats.start)
        # A busy loop (FastStream's pull loop on a closed connection) burns a whole core.
        assert all(cpu[name] - cpu_before[name] < spent / 2 for name in cpu), (
            f"CPU seconds in {spent:.0f} s without NATS: "
            f"{ {name: round(cpu[name] - cpu_before[name], 1) for name in cpu} }"
        )

        await _all_ready_again(rig, http)


async def _kill_services(rig: Rig, wave: Wave) -> None:
    """SIGKILL each service in turn while the wave's cases go through, and restart it."""
    wave.start()
    for name in KILLED_SERVICES:
        await asyncio.sleep(1.0)  # cases move on between the kills
        process = rig.running.processes[name]
        process.kill()
        await asyncio.to_thread(process.wait)
        await rig.restart_service(name)


def _prober(timeout: float) -> httpx.AsyncClient:
    """A client that probes as an orchestrator does: a new connection per request (a kept
    one can be closed by the server's keep-alive timeout just as it is reused)."""
    return httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0))


async def _all_ready_again(rig: Rig, http: httpx.AsyncClient, within: float = 60) -> None:
    """Wait until every service answers /readyz 200 on its own; name the ones that do not."""
    deadline = time.monotonic() + within
    while True:
        waiting = {}
        for name, url in rig.running.urls.items():
            answer = await http.get(f"{url}/readyz")
            if answer.status_code != 200:
                waiting[name] = answer.text[:300]
        if not waiting:
            return
        assert time.monotonic() < deadline, (
            f"not ready again after {within}s: {waiting}\n"
            + "\n".join(f"{name}:\n{rig.running.log_tail(name, 15)}" for name in waiting)
        )
        await asyncio.sleep(0.5)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _hang_relay(rig: Rig, wave: Wave) -> None:
    wave.start()
    await asyncio.sleep(1.0)  # the wave's cases are under way
    hung = await rig.leader()
    process = rig.running.processes[hung]
    process.send_signal(signal.SIGSTOP)
    try:

        async def taken_over() -> bool:
            return await rig.leader() != hung

        await eventually(taken_over, "the standby took over from the hung relay", 60)
        await asyncio.sleep(2.0)
    finally:
        process.send_signal(signal.SIGCONT)


async def _cut_postgres(rig: Rig, wave: Wave) -> None:
    wave.start()
    await asyncio.sleep(1.0)  # the wave's cases are under way
    await rig.proxy.cut()
    started = time.monotonic()
    async with _prober(5.0) as http:
        while time.monotonic() - started < PG_OUTAGE:
            for name, url in rig.running.urls.items():
                assert (await http.get(f"{url}/healthz")).status_code == 200, name
                ready = await http.get(f"{url}/readyz")
                assert ready.status_code == 503, f"{name} ready without PostgreSQL"
            for name, process in rig.running.processes.items():
                assert process.poll() is None, f"{name} died:\n{rig.running.log_tail(name)}"
            await asyncio.sleep(min(5.0, PG_OUTAGE / 4))
        await rig.proxy.start()

        await _all_ready_again(rig, http)


async def _oversized_event(rig: Rig, conn: asyncpg.Connection, wave: Wave) -> None:
    wave.start()
    store = await EventStore.connect(rig.direct_url, max_size=1)
    try:
        big = NewEvent(
            event_id=uuid4(),
            type="prokopim.faults.oversized.v1",
            occurred_at=datetime.now(UTC),
            data={"blob": "x" * (1024 * 1024 + 1)},
        )
        await store.append("faults-oversized", 0, [big])
    finally:
        await store.close()

    async def quarantined() -> bool:
        return bool(
            await conn.fetchval(
                "SELECT count(*) FROM relay_quarantine WHERE event_id = $1", big.event_id
            )
        )

    await eventually(quarantined, "the oversized event was quarantined", 60)


async def _ledger_agrees(conn: asyncpg.Connection, case_ids: list[str]) -> None:
    async def same() -> bool:
        for case_id in case_ids:
            _, stored = await history(conn, case_id)
            rows = await conn.fetch(
                "SELECT event_id::text FROM ledger_audit WHERE case_id = $1::uuid", case_id
            )
            if sorted(r["event_id"] for r in rows) != stored:
                return False
        return True

    await eventually(same, "the ledger holds every event of every case", 60)
