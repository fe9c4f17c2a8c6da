"""prokopim_devstack.infra: detect the local PostgreSQL, or start embedded servers."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import nats
import pytest
from prokopim_devstack.infra import (
    DEFAULT_DATABASE_URL,
    DEFAULT_NATS_URL,
    EMBEDDED_ENV,
    Infra,
    ensure_infra,
    running_infra,
)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def _pids_using(path: Path) -> list[int]:
    """Live processes whose command line mentions ``path`` (postmaster, its children, nats)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        if str(path).encode() in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


async def _use_postgres(url: str, sql: str) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _publish(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
        ack = await js.publish(f"{stream.lower()}.hello", b"hi")
        assert ack.stream == stream
        return ack.seq
    finally:
        await nc.close()


def _assert_stopped(infra: Infra, data_dir: Path, ports: list[int]) -> None:
    assert infra.servers == []
    assert _pids_using(data_dir) == []
    for port in ports:
        assert not _accepts(port)


@pytest.mark.integration
async def test_embedded_servers_start_work_restart_and_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EMBEDDED_ENV, "1")
    data_dir = tmp_path / "data"

    infra = await ensure_infra(data_dir, None, None)
    try:
        servers = {s.name: s for s in infra.servers}
        assert set(servers) == {"postgres", "nats-server"}
        assert infra.database_url != DEFAULT_DATABASE_URL
        assert infra.nats_url != DEFAULT_NATS_URL
        assert await _use_postgres(infra.database_url, "SELECT 1") == 1
        await _use_postgres(infra.database_url, "CREATE TABLE kept (x int)")
        assert await _publish(infra.nats_url, "KEPT") == 1
        ports = [
            int(url.rsplit(":", 1)[1].split("/")[0]) for url in (infra.database_url, infra.nats_url)
        ]
    finally:
        infra.stop()
    assert all(s.process.poll() is not None for s in servers.values())
    _assert_stopped(infra, data_dir, ports)

    # Restart on the same data: no initdb, the table and the stream are still there.
    async with running_infra(data_dir) as infra:
        assert await _use_postgres(infra.database_url, "SELECT count(*) FROM kept") == 0
        nc = await nats.connect(infra.nats_url)
        try:
            info = await nc.jetstream().stream_info("KEPT")
            assert info.state.messages == 1
        finally:
            await nc.close()
    _assert_stopped(infra, data_dir, [])


@pytest.mark.integration
async def test_servers_left_by_a_crashed_run_are_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EMBEDDED_ENV, "1")
    data_dir = tmp_path / "data"
    crashed = await ensure_infra(data_dir, None, None)  # never stopped, as if killed -9
    old = list(crashed.servers)

    async with running_infra(data_dir) as infra:
        assert all(s.process.poll() is not None for s in old)
        assert await _use_postgres(infra.database_url, "SELECT 1") == 1
        assert await _publish(infra.nats_url, "AGAIN") == 1
    _assert_stopped(infra, data_dir, [])
    crashed.stop()  # nothing left to do, must not fail


@pytest.mark.integration
async def test_local_postgres_is_detected_but_never_an_open_local_nats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(EMBEDDED_ENV, raising=False)
    if not _accepts(5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")

    async with running_infra(tmp_path) as infra:
        assert infra.database_url == DEFAULT_DATABASE_URL
        assert await _use_postgres(infra.database_url, "SELECT 1") == 1
        # NATS: ours, closed, even when an unauthenticated one answers on :4222.
        assert [s.name for s in infra.servers] == ["nats-server"]
        assert infra.bus is not None and infra.bus.url != DEFAULT_NATS_URL
        with pytest.raises(nats.errors.Error):
            await nats.connect(infra.bus.url, allow_reconnect=False, connect_timeout=2)
        assert await _publish(infra.nats_url, "OPERATOR") == 1  # as the operator
    assert "postgres" not in _listing(tmp_path)  # PostgreSQL was not initialised
    assert (tmp_path / "nats-passwords.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "nats.conf").stat().st_mode & 0o777 == 0o600


@pytest.mark.unit
async def test_explicit_urls_win_even_over_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EMBEDDED_ENV, "1")
    db, bus = "postgresql://someone@db.example:5433/x", "nats://bus.example:4223"
    infra = await ensure_infra(tmp_path, db, bus)
    assert (infra.database_url, infra.nats_url, infra.servers) == (db, bus, [])
    assert _listing(tmp_path) == []
