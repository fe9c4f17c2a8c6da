"""`prokopim_http_request_duration_seconds`: every request, per route template and status."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_intake.app import create_app
from prokopim_kit.auth import issue_token
from prokopim_kit.runtime import ServiceSettings
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

SECRET = secrets.token_urlsafe(40)
HISTOGRAM = "prokopim_http_request_duration_seconds"


@pytest.fixture
async def http(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


def counts(text: str) -> dict[tuple[str, str, str], float]:
    """The histogram's request counts of intake, by (route, method, status)."""
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == f"{HISTOGRAM}_count" and s.labels["service"] == "intake"
    }


async def test_requests_are_timed_per_route_template_method_and_status(
    http: httpx.AsyncClient,
) -> None:
    before = counts((await http.get("/metrics")).text)
    token = issue_token(SECRET, subject="m-1", role="ka-bagian")
    auth = {"Authorization": f"Bearer {token}"}
    unknown = [uuid.uuid4() for _ in range(3)]
    for case_id in unknown:
        assert (await http.get(f"/cases/{case_id}", headers=auth)).status_code == 404
    assert (await http.get(f"/cases/{unknown[0]}")).status_code == 401
    assert (await http.post("/cases", json={}, headers=auth)).status_code == 422
    assert (await http.get("/no/such/path")).status_code == 404

    text = (await http.get("/metrics")).text
    after = counts(text)
    grown = {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key)}
    assert grown == {
        ("/cases/{case_id}", "GET", "404"): 3,  # one series for every case
        ("/cases/{case_id}", "GET", "401"): 1,
        ("/cases", "POST", "422"): 1,
        ("unmatched", "GET", "404"): 1,
        ("/metrics", "GET", "200"): 1,  # the first scrape
    }
    assert all(str(case_id) not in text for case_id in unknown)
    # 0.1 s, the command latency target, is a bucket edge: a p99 alert can test it exactly
    edges = {
        s.labels["le"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == f"{HISTOGRAM}_bucket" and s.labels["route"] == "/cases/{case_id}"
    }
    assert "0.1" in edges
