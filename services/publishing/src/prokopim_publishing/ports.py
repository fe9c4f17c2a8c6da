"""The outside systems publishing talks to, as ports the service depends on.

Each adapter raises `IntegrationFailed` naming itself. The website and the mails are sent by
publishing's consumer (`effects`), which records each delivery, never by a request.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from .domain import ArchiveEntry, PressRelease


class Website(Protocol):
    """The city website's news endpoint."""

    async def post(self, release: PressRelease, idempotency_key: str) -> str:
        """Publish the release (once per key); return its public URL."""
        ...


class Mailer(Protocol):
    """The mail server press releases go out through."""

    @property
    def sender(self) -> str:
        """The From address of press releases."""
        ...

    async def send_one(self, message: EmailMessage) -> None:
        """Send one message; raise `MailRefused` (permanent or not) when it is not accepted."""
        ...


class Archive(Protocol):
    """Where handed-over recordings are filed."""

    async def file(self, entry: ArchiveEntry) -> str:
        """File the entry under its archive name; return where it now is."""
        ...


@dataclass(frozen=True)
class Integrations:
    """The adapters one service process uses."""

    website: Website
    mailer: Mailer
    archive: Archive
