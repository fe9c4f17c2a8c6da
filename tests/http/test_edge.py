"""The HTTP edge (issue 12 item 5): tokens, roles, body size, timeouts, connections."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from prokopim_kit import runtime
from prokopim_kit.limits import HttpSettings, uvicorn_options
from prokopim_testing.ports import free_port

from .apps import SERVICES, bearer, stub_app
from .conftest import Client

pytestmark = pytest.mark.unit

OPS = {"/healthz", "/readyz", "/metrics"}
# Reached without a bearer token by design: an iCalendar feed (its secret is in the URL, for
# calendar apps) and the requester's status page (an unguessable token in the link mailed).
PUBLIC = {"/calendars/{feed_id}.ics", "/status/{case_id}/{token}"}
IDS = {
    "case_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a",
    "outlet_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8b",
    "actor_id": "someone",
    "office": "bandung",
    "resource_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8c",
    "feed_id": "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8d",
    "token": "not-a-feed-secret",
    "sop_id": "bdg-setda-010-2024",
}


def operations(service: str) -> list[tuple[str, str]]:
    """Return (method, concrete path) of every documented operation but the ops routes."""
    schema = stub_app(service).openapi()
    found = []
    for path, item in schema["paths"].items():
        if path in OPS or path in PUBLIC:
            continue
        for method in item:
            found.append((method.upper(), path.format(**IDS)))
    return found


EVERY_OPERATION = [(s, m, p) for s in SERVICES for m, p in operations(s)]


@pytest.mark.parametrize(("service", "method", "path"), EVERY_OPERATION)
async def test_every_operation_answers_401_with_a_bearer_challenge(
    stub: Client, service: str, method: str, path: str
) -> None:
    response = await stub(service).request(method, path, json={})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="prokopim"'
    assert response.headers["content-type"] == "application/problem+json"
    bad = await stub(service).request(
        method, path, json={}, headers={"Authorization": "Bearer x.y.z"}
    )
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]


@pytest.mark.parametrize(("service", "method", "path"), EVERY_OPERATION)
async def test_a_role_no_installed_sop_has_is_403_everywhere(
    stub: Client, service: str, method: str, path: str
) -> None:
    response = await stub(service).request(method, path, json={}, headers=bearer("tamu"))
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "unknown_role"
    assert response.json()["actual_role"] == "tamu"


async def test_every_operation_documents_401_and_403_as_problems() -> None:
    for service in SERVICES:
        schema = stub_app(service).openapi()
        for path, item in schema["paths"].items():
            if path in OPS or path in PUBLIC:
                continue
            for method, operation in item.items():
                for status in ("401", "403", "422"):
                    content = operation["responses"][status]["content"]
                    assert "application/problem+json" in content, (service, method, path, status)


@pytest.mark.parametrize(
    "ahead", [timedelta(days=2), datetime(2100, 1, 1, tzinfo=UTC) - datetime.now(UTC)]
)
async def test_a_token_expiring_too_far_ahead_is_401(stub: Client, ahead: timedelta) -> None:
    headers = bearer("ka-bagian", exp=datetime.now(UTC) + ahead)
    response = await stub("intake").get("/cases/not-a-uuid", headers=headers)
    assert response.status_code == 401
    assert "JWT_MAX_LIFETIME_SECONDS" in response.json()["detail"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    within = await stub("intake").get("/cases/not-a-uuid", headers=bearer("ka-bagian"))
    assert within.status_code == 422  # the token passed; the path did not


async def test_issuer_and_audience_are_the_installation_s(stub: Client) -> None:
    app = stub_app("intake", jwt_issuer="kota-bandung", jwt_audience="prokopim-bandung")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        others = await client.get("/cases/not-a-uuid", headers=bearer("ka-bagian"))
        assert others.status_code == 401
        wrong_audience = bearer("ka-bagian", iss="kota-bandung")
        assert (await client.get("/cases/not-a-uuid", headers=wrong_audience)).status_code == 401
        ours = bearer("ka-bagian", iss="kota-bandung", aud="prokopim-bandung")
        assert (await client.get("/cases/not-a-uuid", headers=ours)).status_code == 422


@pytest.fixture
def small_body_app() -> httpx.AsyncClient:
    app = stub_app("intake", max_body_bytes=2048)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def test_a_body_over_the_limit_is_413_before_it_is_parsed_or_authenticated(
    small_body_app: httpx.AsyncClient,
) -> None:
    async with small_body_app as client:
        not_json = b"{" * 3000  # would be a 422 if it were parsed
        response = await client.post("/cases", content=not_json)
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"
        assert response.json()["limit_bytes"] == 2048


async def test_a_chunked_body_over_the_limit_is_413(small_body_app: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b" " * 1000

    async with small_body_app as client:
        response = await client.post(
            "/cases",
            content=chunks(),
            headers={"content-type": "application/json", **bearer("pengadministrasi-umum")},
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413
        assert response.json()["error"] == "request_too_large"


def test_serve_runs_uvicorn_with_the_edge_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(options))
    monkeypatch.setenv("JWT_SECRET", "http-edge-tests-secret-0123456789abcdef")
    monkeypatch.setenv("HTTP_MAX_CONNECTIONS", "7")
    monkeypatch.setenv("HTTP_KEEP_ALIVE_SECONDS", "3")
    from prokopim_intake.app import create_app
    from prokopim_intake.config import Settings

    runtime.serve(create_app, Settings)
    assert captured["limit_concurrency"] == 7
    assert captured["timeout_keep_alive"] == 3
    assert captured["http"].header_timeout == 10.0


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    """Serve a stand-in intake app with uvicorn and the given HttpSettings; yield its port."""
    settings = HttpSettings(**request.param)
    port = free_port()
    config = uvicorn.Config(
        stub_app("intake"),
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        **uvicorn_options(settings),
    )
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    while not served.started:
        threading.Event().wait(0.01)
    yield port
    served.should_exit = True
    thread.join()


def closed_by_server(sock: socket.socket) -> bool:
    """Return whether the server closes the connection (read until EOF; 30 s at most)."""
    sock.settimeout(30)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    return True


FAST = {"http_header_timeout_seconds": 0.2, "http_keep_alive_seconds": 0.2}


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_connection_that_never_sends_a_request_is_closed(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        assert closed_by_server(sock)


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_request_head_sent_too_slowly_is_closed(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert closed_by_server(sock)


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_an_idle_keep_alive_connection_is_closed(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(30)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert closed_by_server(sock)


@pytest.mark.parametrize(
    "server", [{"http_max_connections": 2, "http_header_timeout_seconds": 60}], indirect=True
)
async def test_connections_beyond_the_limit_are_refused_with_503(server: int) -> None:
    idle = [socket.create_connection(("127.0.0.1", server)) for _ in range(2)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
            response = await client.get("/healthz")
        assert response.status_code == 503
    finally:
        for sock in idle:
            sock.close()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
        for _ in range(100):  # the server notices the closed sockets on its next loop turn
            response = await client.get("/healthz")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert response.status_code == 200


def test_services_run_on_uvloop() -> None:
    """uvicorn picks uvloop ("auto"), a dependency of the kit: a fifth less CPU per request
    and consumed event in bench/flow.py than asyncio's own loop."""
    import importlib.util

    assert uvicorn_options(HttpSettings())["loop"] == "auto"
    assert importlib.util.find_spec("uvloop") is not None
