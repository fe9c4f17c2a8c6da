"""The six service apps built in-process, and bearer tokens for them.

`stub_apps` have no lifespan: a stand-in runtime holds only the SOP catalog, so a request
that a service refuses at its edge (token, role, body, query) is answered exactly as in
production, and one that would reach the store fails loudly instead.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import jwt
from fastapi import FastAPI
from prokopim_sop import load_catalog

SECRET = "http-edge-tests-secret-0123456789abcdef"
SERVICES = ("intake", "scheduling", "production", "review", "publishing", "ledger")


def settings_of(service: str, **values: Any) -> Any:
    """Return the service's own settings class filled with `values` (and the test secret)."""
    module = importlib.import_module(f"prokopim_{service}.config")
    return module.Settings(jwt_secret=SECRET, **values)


def build(service: str, **values: Any) -> FastAPI:
    """Return the service's app, built as its __main__ builds it."""
    module = importlib.import_module(f"prokopim_{service}.app")
    app: FastAPI = module.create_app(settings_of(service, **values))
    return app


def stub_app(service: str, **values: Any) -> FastAPI:
    """Return the app with a stand-in runtime that knows only the SOP catalog."""
    app = build(service, **values)
    app.state.runtime = SimpleNamespace(catalog=load_catalog())
    return app


def token(as_role: str = "ka-bagian", /, *, secret: str = SECRET, **claims: Any) -> str:
    """Return a signed token; `claims` replace (or, given None, drop) the usual ones."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "sub": "user-1",
        "role": as_role,
        "iss": "prokopim",
        "aud": "prokopim",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, secret, "HS256")


def bearer(as_role: str = "ka-bagian", /, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(as_role, **claims)}"}
