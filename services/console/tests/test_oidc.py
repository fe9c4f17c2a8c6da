"""OpenID Connect sign-in against a local provider stub: code flow, role from a claim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prokopim_console.app import create_app
from prokopim_console.config import Settings
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_testing.ports import free_port

from .oidc_stub import running_stub

pytestmark = pytest.mark.integration
SECRET = "console-oidc-secret-0123456789abcdefgh"


async def _signed_in_through_the_idp(
    infra: Infra, console_url: str, topology: Topology, claims: dict[str, Any]
) -> AsyncIterator[httpx.Response]:
    with running_stub(free_port(), "console", "s3cret-client", claims) as issuer:
        settings = Settings(
            database_url=console_url,
            nats_url=infra.nats_url,
            prokopim_namespace=topology.namespace,
            jwt_secret=SECRET,
            oidc_issuer=issuer,
            oidc_client_id="console",
            oidc_client_secret="s3cret-client",
        )
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://console.test"
            ) as console,
            httpx.AsyncClient() as browser,
        ):
            start = await console.get("/oidc/login")
            assert start.status_code == 302
            at_idp = await browser.get(start.headers["location"])  # the IdP signs in at once
            assert at_idp.status_code == 302
            callback = at_idp.headers["location"].replace("http://console.test", "")
            yield await console.get(callback)


@pytest.fixture
def claims() -> dict[str, Any]:
    return {
        "sub": "u-17",
        "preferred_username": "siti",
        "name": "Siti",
        "prokopim_role": "ka-bagian",
    }


async def test_the_idp_signs_a_user_in_with_the_role_its_claim_names(
    infra: Infra, role_urls: dict[str, str], topology: Topology, claims: dict[str, Any]
) -> None:
    async for response in _signed_in_through_the_idp(infra, role_urls["console"], topology, claims):
        assert response.status_code == 303 and response.headers["location"] == "/worklist"
        assert "prokopim_session" in response.cookies


async def test_a_user_without_the_role_claim_is_refused_and_told_why(
    infra: Infra, role_urls: dict[str, str], topology: Topology, claims: dict[str, Any]
) -> None:
    del claims["prokopim_role"]
    async for response in _signed_in_through_the_idp(infra, role_urls["console"], topology, claims):
        assert response.status_code == 403
        assert "prokopim_role" in response.text
        assert "prokopim_session" not in response.cookies
