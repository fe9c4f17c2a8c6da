"""The whole system as separate processes, with a real SMTP server and website endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from prokopim_cli.flows import Driver
from prokopim_cli.system import (
    SERVICES,
    RunningSystem,
    start_process,
    start_system,
    wait_ready,
)
from prokopim_events.topology import Topology
from prokopim_testing.ports import free_port


@dataclass
class Mailbox:
    """What the local SMTP server received."""

    messages: list[Envelope] = field(default_factory=list)
    on_message: Callable[[Envelope], None] | None = None  # a fault test's hook

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        if self.on_message is not None:
            self.on_message(envelope)
        return "250 OK"

    def recipients(self) -> list[str]:
        return sorted(rcpt for message in self.messages for rcpt in message.rcpt_tos)


@dataclass
class Website:
    """A local city-website endpoint that records every post."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def website() -> Iterator[Website]:
    site = Website()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            post = json.loads(body)
            post["_idempotency_key"] = self.headers.get("Idempotency-Key")
            site.posts.append(post)
            answer = json.dumps({"url": f"https://kota.example/berita/{len(site.posts)}"})
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()


@dataclass
class System:
    running: RunningSystem
    driver: Driver
    database_url: str
    secret: str
    archive_dir: Path
    restart: Callable[[str], None] = lambda name: None  # start a killed process again


@pytest.fixture
async def system(
    database_url: str,
    role_urls: dict[str, str],
    infra: Any,
    topology: Topology,
    nats_client: Any,
    mailbox: tuple[Mailbox, int],
    website: Website,
    tmp_path: Path,
) -> AsyncIterator[System]:
    """Relay and five services as their own processes, on this test's database and namespace."""
    secret = secrets.token_urlsafe(40)
    archive_dir = tmp_path / "archive"
    env = {
        "DATABASE_URL": database_url,
        "NATS_URL": infra.nats_url,
        "PROKOPIM_NAMESPACE": topology.namespace,
        "JWT_SECRET": secret,
        "ARCHIVE_DIR": str(archive_dir),
        "WEBSITE_URL": f"http://127.0.0.1:{website.port}/api/news",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox[1]),
        "SMTP_SENDER": "prokopim@kota.example",
        "PROKOPIM_CHAIN_KEY": secrets.token_urlsafe(40),
        "LEDGER_SEAL_EXPORT_FILE": str(tmp_path / "seal-heads.jsonl"),
    }
    ports = {name: free_port() for name in SERVICES}
    # each process logs in as its own database role, as `prokopim up` and compose run it
    own = {name: {"DATABASE_URL": url} for name, url in role_urls.items()}
    running = await asyncio.to_thread(
        start_system, env, tmp_path / "logs", ports=ports, process_env=own, bus=infra.bus
    )
    driver = Driver(running.urls, secret)

    def restart(name: str) -> None:
        """Start one (killed) service again with the environment it had, and wait for it."""
        service_env = {
            **os.environ,
            **env,
            **own.get(name, {}),
            **infra.bus.env(name),
            "PORT": str(ports[name]),
            "HOST": "127.0.0.1",
        }
        start_process(
            running,
            name,
            [str(Path(sys.executable).parent / f"prokopim-{name}")],
            service_env,
            tmp_path / "logs",
        )
        wait_ready(running, 300)

    try:
        yield System(running, driver, database_url, secret, archive_dir, restart)
    finally:
        await driver.close()
        await asyncio.to_thread(running.stop)
