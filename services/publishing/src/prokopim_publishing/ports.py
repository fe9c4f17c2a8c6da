"""The outside systems publishing talks to, as ports the service depends on.

Each adapter raises `IntegrationFailed` naming itself, so a failure becomes a 502 and the
command records nothing (a retry sends again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from .domain import ArchiveEntry, PressRelease
from .registry import Outlet


class Website(Protocol):
    """The city website's news endpoint."""

    async def post(self, release: PressRelease) -> str:
        """Publish the release (idempotently per case); return its public URL."""
        ...


class Mailer(Protocol):
    """The mail server press releases go out through."""

    async def send(
        self, release: PressRelease, website_url: str, outlets: Sequence[Outlet]
    ) -> list[UUID]:
        """Email the release to each outlet; return the ids of the outlets emailed."""
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
