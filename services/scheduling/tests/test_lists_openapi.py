"""Every list scheduling serves is a cursor page, as documented in its OpenAPI."""

from __future__ import annotations

import secrets

from prokopim_kit.runtime import ServiceSettings
from prokopim_scheduling.app import create_app


def test_no_list_is_answered_as_a_bare_array() -> None:
    settings = ServiceSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        nats_url="nats://127.0.0.1:1",
        jwt_secret=secrets.token_urlsafe(40),
    )
    schema = create_app(settings).openapi()
    components = schema["components"]["schemas"]
    pages = {}
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or "200" not in get["responses"]:
            continue
        content = get["responses"]["200"].get("content", {}).get("application/json")
        if content is None:
            continue
        assert content["schema"].get("type") != "array", path
        ref = content["schema"].get("$ref", "").rpartition("/")[2]
        if ref.endswith("Page"):
            pages[path] = ref
    assert pages == {
        "/cases/{case_id}/notifications": "NotificationPage",
        "/offices/{office}/crew": "ResourcePage",
        "/offices/{office}/equipment": "ResourcePage",
        "/offices/{office}/bookings": "BookingPage",
        "/cases/{case_id}/bookings": "BookingPage",
    }
    for name in set(pages.values()):
        assert {"count", "next"} <= set(components[name]["properties"]), name
