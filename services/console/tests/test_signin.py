"""Sign-in over HTTP against a real database: argon2 accounts, cookie flags, CSRF, sign-out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from prokopim_console.accounts import add_user, authenticate, console_migrations
from prokopim_console.app import create_app
from prokopim_console.config import Settings
from prokopim_devstack.infra import Infra
from prokopim_events.migrations import migrate
from prokopim_events.topology import Topology

pytestmark = pytest.mark.integration
SECRET = "console-tests-secret-0123456789abcdef"


@pytest.fixture
async def app_client(
    infra: Infra, role_urls: dict[str, str], topology: Topology
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=role_urls["console"],  # its own role, as every setting runs it
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.console.pool.acquire() as conn:
            await add_user(conn, "siti", "ka-bagian", "rahasia-sekali", display_name="Siti")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://console.test"
        ) as client:
            yield client


async def _login_form(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_a_page_sends_a_stranger_to_sign_in(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/worklist")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/worklist"


async def test_wrong_password_and_missing_csrf_are_refused(app_client: httpx.AsyncClient) -> None:
    token = await _login_form(app_client)
    wrong = await app_client.post(
        "/login", data={"username": "siti", "password": "salah-salah", "csrf": token}
    )
    assert wrong.status_code == 401
    assert "prokopim_session" not in wrong.cookies
    forged = await app_client.post(
        "/login", data={"username": "siti", "password": "rahasia-sekali", "csrf": "forged"}
    )
    assert forged.status_code == 403


async def test_sign_in_sets_a_hardened_cookie_and_sign_out_needs_csrf(
    app_client: httpx.AsyncClient,
) -> None:
    token = await _login_form(app_client)
    response = await app_client.post(
        "/login", data={"username": "siti", "password": "rahasia-sekali", "csrf": token}
    )
    assert response.status_code == 303
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("prokopim_session=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite=lax"} <= flags  # https: Secure is set
    assert (await app_client.post("/logout", data={"csrf": "nope"})).status_code == 403
    page = await app_client.get("/sla", follow_redirects=False)
    # signed in: the page renders (the ledger is not running here: the console names it)
    assert page.status_code == 503
    assert "ledger is not reachable" in page.text
    session_csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert session_csrf
    out = await app_client.post("/logout", data={"csrf": session_csrf.group(1)})
    assert out.status_code == 303
    assert 'prokopim_session=""' in out.headers["set-cookie"]


async def test_passwords_are_stored_as_argon2id(role_urls: dict[str, str]) -> None:
    conn = await asyncpg.connect(role_urls["console"])
    try:
        await migrate(conn, console_migrations())
        await add_user(conn, "budi", "penata-liputan", "kata-sandi-panjang")
        stored = await conn.fetchval("SELECT password_hash FROM console_users WHERE name='budi'")
        assert stored.startswith("$argon2id$")
        assert "kata-sandi-panjang" not in stored
        assert await authenticate(conn, "budi", "kata-sandi-panjang") is not None
        assert await authenticate(conn, "budi", "kata-sandi-salah") is None
        assert await authenticate(conn, "nobody", "kata-sandi-panjang") is None
        with pytest.raises(ValueError, match="exists already"):
            await add_user(conn, "budi", "ka-bagian", "another-password")
        with pytest.raises(ValueError, match="at least 8"):
            await add_user(conn, "ani", "ka-bagian", "short")
    finally:
        await conn.close()


async def test_a_form_over_the_body_limit_is_413_before_it_is_parsed(
    app_client: httpx.AsyncClient,
) -> None:
    """The sign-in form is read before anyone is signed in: MAX_BODY_BYTES bounds it too."""
    token = await _login_form(app_client)
    oversized = {"username": "siti", "password": "x" * (2 * 1024 * 1024), "csrf": token}
    response = await app_client.post("/login", data=oversized)
    assert response.status_code == 413
    assert response.json()["error"] == "request_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        yield f"csrf={token}&username=siti&password=".encode()
        for _ in range(40):
            yield b"x" * 65536

    chunked = await app_client.post(
        "/login",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413


async def test_every_action_form_refuses_a_forged_csrf_token(
    app_client: httpx.AsyncClient,
) -> None:
    token = await _login_form(app_client)
    signed = await app_client.post(
        "/login", data={"username": "siti", "password": "rahasia-sekali", "csrf": token}
    )
    assert signed.status_code == 303
    case = "0b6c7f5e-6f1e-4c61-9a53-0d5a2b7f9c11"
    for action in (
        f"/cases/{case}/step",
        f"/cases/{case}/archive",
        "/requests/new",
        "/outlets",
        "/outlets/radar/deactivate",
    ):
        # signed in, but the token is not this session's: refused before any service is called
        # (none runs here: a call would be a 503 naming it)
        forged = await app_client.post(action, data={"csrf": "forged", "step": "2"})
        assert forged.status_code == 403, action
        assert "CSRF" in forged.text, action
        missing = await app_client.post(action, data={"step": "2"})
        assert missing.status_code == 403, action


async def test_metrics_count_the_console_pages(app_client: httpx.AsyncClient) -> None:
    await app_client.get("/login")
    metrics = await app_client.get("/metrics")
    assert metrics.status_code == 200
    assert any(
        'service="console"' in line and "/login" in line for line in metrics.text.splitlines()
    ), metrics.text[:2000]
