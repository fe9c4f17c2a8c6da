"""What `prokopim up` prints: every OpenAPI page it names is one the service serves."""

from __future__ import annotations

import secrets

import pytest
from prokopim_cli.main import service_lines
from prokopim_cli.system import SERVICES
from prokopim_console.app import create_app
from prokopim_console.config import Settings

pytestmark = pytest.mark.unit


def test_up_names_an_openapi_page_only_for_services_that_serve_one() -> None:
    urls = {name: f"http://127.0.0.1:{8001 + n}" for n, name in enumerate(SERVICES)}
    lines = service_lines(urls)
    console = create_app(Settings(jwt_secret=secrets.token_urlsafe(40)))
    assert console.docs_url is None  # the console is pages for people, not an API
    assert not any(urls["console"] in line for line in lines)
    named = {line.split()[0] for line in lines}
    assert named == set(SERVICES) - {"console"}
