"""The console in headless Chromium: the whole system as processes, Playwright for Python
driving Debian's chromium (never `playwright install`), axe-core injected into each page."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from prokopim_cli.system import SERVICES, RunningSystem, start_system
from prokopim_cli.users import ensure_demo_accounts
from prokopim_events.migrations import installed_migrations
from prokopim_events.roles import PROCESSES, DatabaseRoles, migrate_as_owner
from prokopim_testing.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_VERSION = "4.10.3"
HERE = Path(__file__).parent
SCREENSHOTS = HERE / "screenshots"

pytestmark = pytest.mark.browser


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(
                    pytest.mark.skip(reason="needs Debian chromium: apt-get install -y chromium")
                )


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from npm, installed once into tests/browser/.node (git-ignored)."""
    script = HERE / ".node" / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("needs npm to fetch axe-core")
        subprocess.run(
            [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(HERE / ".node"),
                f"axe-core@{AXE_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return script.read_text()


class _Mailbox:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


@pytest.fixture(scope="module")
def website_port() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = json.dumps({"url": "https://kota.example/berita/1"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@dataclass
class ConsoleSystem:
    running: RunningSystem
    url: str
    accounts: dict[str, str] = field(default_factory=dict)  # role -> password


@pytest.fixture(scope="module")
async def console_system(
    infra: Any,
    database_roles: DatabaseRoles,
    website_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ConsoleSystem]:
    """Relay, five services, ledger and console as processes, on a database of their own,
    each logged in as its own database role (migrated by the owner, as in production)."""
    name = f"prokopim_browser_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = infra.database_url.rpartition("/")[0] + f"/{name}"
    conn = await asyncpg.connect(database_url)
    await migrate_as_owner(conn, database_roles, installed_migrations())
    await conn.close()
    own = {p: {"DATABASE_URL": database_roles.url(database_url, p)} for p in PROCESSES}
    smtp_port = free_port()
    smtp = Controller(_Mailbox(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    tmp = tmp_path_factory.mktemp("browser")
    env = {
        "DATABASE_URL": database_url,
        "NATS_URL": infra.nats_url,
        "PROKOPIM_NAMESPACE": f"b{uuid.uuid4().hex[:10]}",
        "JWT_SECRET": secrets.token_urlsafe(40),
        "ARCHIVE_DIR": str(tmp / "archive"),
        "WEBSITE_URL": f"http://127.0.0.1:{website_port}/api/news",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_SENDER": "prokopim@kota.example",
    }
    ports = {service: free_port() for service in SERVICES}
    running = await asyncio.to_thread(
        start_system, env, tmp / "logs", ports=ports, ready_within=180.0, process_env=own
    )
    try:
        accounts = {role: pw for role, pw, _ in await ensure_demo_accounts(database_url)}
        yield ConsoleSystem(running, running.urls["console"], accounts)
    finally:
        await asyncio.to_thread(running.stop)
        smtp.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()
