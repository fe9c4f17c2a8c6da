"""Reuse the workspace's real PostgreSQL/NATS fixtures for intake's tests.

Pytest applies /work/main/tests/conftest.py only to tests under tests/, a non-root conftest
may not declare `pytest_plugins`, and with `--import-mode=importlib` the `tests` folder is
not importable as a package. So the shared conftest is loaded from its path and its fixtures
re-exported here, which keeps one definition of how infra is found or started.
Intake's own fixtures (the started app, a client, the test database's store) follow.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from prokopim_cli.infra import Infra  # type: ignore[import-untyped, unused-ignore]
from prokopim_events.db import create_pool
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_intake.app import create_app
from prokopim_kit.auth import issue_token
from prokopim_kit.runtime import ServiceSettings

SECRET = "intake-tests-secret-0123456789abcdef"

Auth = Callable[..., dict[str, str]]


def _load_shared_conftest() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
    name = "prokopim_intake_tests_shared_fixtures"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"no shared conftest at {path}"
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_shared = _load_shared_conftest()

infra = _shared.infra
database_url = _shared.database_url
topology = _shared.topology
nats_client = _shared.nats_client


@pytest.fixture
def auth() -> Auth:
    """Return a maker of Authorization headers signed with the app's secret."""

    def headers(role: str, subject: str = "user-1", secret: str = SECRET) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(secret, subject=subject, role=role)}"}

    return headers


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[EventStore]:
    """The test database's event store, to check what the service wrote."""
    pool = await create_pool(database_url, max_size=2)
    yield EventStore(pool)
    await pool.close()


@pytest.fixture
async def app(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[FastAPI]:
    """The intake app with its lifespan running (pool, migrations, NATS broker)."""
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    service = create_app(settings)
    async with service.router.lifespan_context(service):
        yield service


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
        yield http
