"""A tiny OpenID Connect provider for tests: discovery, authorize, token, JWKS.

It signs in whoever is named by the `login_hint` it was configured with, at once (no
login page), and puts the configured claims into the RS256 ID token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


def stub_app(issuer: str, client_id: str, client_secret: str, claims: dict[str, Any]) -> Starlette:
    key = RSAKey.generate_key(2048, parameters={"kid": "stub"}, private=True)
    codes: dict[str, str] = {}  # code -> nonce

    async def discovery(_: Request) -> Response:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def authorize(request: Request) -> Response:
        params = request.query_params
        assert params["client_id"] == client_id and params["response_type"] == "code"
        code = secrets.token_urlsafe(16)
        codes[code] = params.get("nonce", "")
        query = urlencode({"code": code, "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    async def token(request: Request) -> Response:
        form = await request.form()
        given_id, given_secret = form.get("client_id"), form.get("client_secret")
        if request.headers.get("authorization", "").startswith("Basic "):
            import base64

            raw = base64.b64decode(request.headers["authorization"][6:]).decode()
            given_id, _, given_secret = raw.partition(":")
        if (given_id, given_secret) != (client_id, client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        nonce = codes.pop(str(form.get("code")), None)
        if nonce is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        body = {"iss": issuer, "aud": client_id, "iat": now, "exp": now + 300, "nonce": nonce}
        id_token = jwt.encode({"alg": "RS256", "kid": "stub"}, {**body, **claims}, key)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )

    async def jwks(_: Request) -> Response:
        return JSONResponse({"keys": [key.as_dict(private=False)]})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks),
        ]
    )


@contextmanager
def running_stub(
    port: int, client_id: str, client_secret: str, claims: dict[str, Any]
) -> Iterator[str]:
    """Serve the stub on 127.0.0.1:port in a thread; yield its issuer URL."""
    issuer = f"http://127.0.0.1:{port}"
    app = stub_app(issuer, client_id, client_secret, claims)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(5)
