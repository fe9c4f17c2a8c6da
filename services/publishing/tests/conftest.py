"""Fixtures of publishing's tests: a real SMTP server and a real HTTP endpoint standing in
for the city website (PostgreSQL and NATS come from the shared prokopim_testing fixtures)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from prokopim_testing.ports import free_port


@dataclass
class Mail:
    recipients: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return sorted(address for mail in self.mails for address in mail.recipients)


class SmtpServer:
    """A real SMTP server on 127.0.0.1, started and stopped on demand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    async def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        await asyncio.to_thread(self._controller.start)

    async def stop(self) -> None:
        if self._controller is not None:
            await asyncio.to_thread(self._controller.stop)
            self._controller = None


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """A running SMTP server collecting every message."""
    server = SmtpServer(free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def smtp_down() -> AsyncIterator[SmtpServer]:
    """An SMTP server on a reserved port that is not started until a test starts it."""
    server = SmtpServer(free_port())
    yield server
    await server.stop()


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    json: dict[str, Any]


@dataclass
class WebsiteStub:
    """What the city website endpoint received, and how it answers."""

    url: str = ""
    posts: list[Post] = field(default_factory=list)
    status: int = 201

    def published_url(self, case_id: str) -> str:
        return f"https://tangerangkota.example/berita/{case_id}"


def _handler(site: WebsiteStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            document = json.loads(self.rfile.read(length) or b"{}")
            headers = {key.lower(): value for key, value in self.headers.items()}
            site.posts.append(Post(self.path, headers, document))
            body = json.dumps({"url": site.published_url(document.get("case_id", ""))})
            self.send_response(site.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler


@pytest.fixture
def website() -> Iterator[WebsiteStub]:
    """A real HTTP server on 127.0.0.1 standing in for the city website's news endpoint."""
    site = WebsiteStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.url = f"http://127.0.0.1:{server.server_address[1]}/api/berita"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join()
