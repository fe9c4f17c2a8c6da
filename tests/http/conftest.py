"""In-process clients of the service apps (see apps.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from .apps import stub_app

Client = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def stub() -> AsyncIterator[Client]:
    """Return a maker of clients of a service's app with a stand-in runtime."""
    clients: list[httpx.AsyncClient] = []

    def client(service: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=stub_app(service), raise_app_exceptions=False)
        made = httpx.AsyncClient(transport=transport, base_url=f"http://{service}")
        clients.append(made)
        return made

    yield client
    for made in clients:
        await made.aclose()
