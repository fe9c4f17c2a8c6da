"""The ledger's routes over real projections: JSON, CSV, HTML, and 4xx on bad queries."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.runtime import Runtime
from prokopim_ledger.app import create_app
from prokopim_ledger.config import Settings
from prokopim_ledger.rebuild import rebuild
from prokopim_ledger.samples import append_case, sample_case
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.integration

SECRET = "ledger-tests-secret-0123456789abcdef"
START = datetime(2025, 5, 5, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
CATALOG = load_catalog()
TGR = CATALOG.get("tgr-58-2025")


class Ledger(httpx.AsyncClient):
    """A client of the ledger's routes, holding the app's runtime (its pool reads the tables)."""

    runtime: Runtime


@pytest.fixture
async def client(
    infra: Infra, database_url: str, topology: Topology, nats_client: object
) -> AsyncIterator[Ledger]:
    settings = Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        runtime: Runtime = app.state.runtime
        rng, cal = random.Random(11), WorkingCalendar()
        for n in range(6):
            start = cal.after_working(START, n * 3600.0)
            _, events = sample_case(TGR, rng, start, cal, reject_rate=0.5)
            await append_case(runtime.store, events)
        async with runtime.pool.acquire() as conn:
            await rebuild(conn, CATALOG, cal)
        token = issue_token(SECRET, subject="kabag", role="kepala-bagian")
        async with Ledger(
            transport=httpx.ASGITransport(app=app),
            base_url="http://ledger",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            client.runtime = runtime
            yield client


async def test_trails_sla_and_report(client: Ledger) -> None:
    pool = client.runtime.pool
    case_id = await pool.fetchval("SELECT case_id FROM ledger_cases ORDER BY opened_at LIMIT 1")
    trail = (await client.get(f"/audit/cases/{case_id}")).json()["entries"]
    assert trail[0]["type"] == "prokopim.intake.request-received.v1"
    assert trail[0]["step_name"].startswith("Menerima")
    assert trail[0]["inputs"][0]["id"] == "request-letter"
    assert trail[0]["inputs"][0]["name"].startswith("Surat permohonan")
    positions = [e["global_position"] for e in trail]
    assert positions == sorted(positions)
    rows = list(
        csv.DictReader(io.StringIO((await client.get(f"/audit/cases/{case_id}?format=csv")).text))
    )
    assert [int(r["global_position"]) for r in rows] == positions

    actor = trail[0]["actor_id"]
    mine = (await client.get(f"/audit/actors/{actor}?from=2025-05-01&to=2025-05-31")).json()
    assert mine["count"] >= 1 and {e["actor_id"] for e in mine["entries"]} == {actor}
    period = (await client.get("/audit?from=2025-05-05&to=2025-05-05&limit=5")).json()
    assert period["count"] == 5

    sla = (await client.get(f"/sla/cases/{case_id}")).json()
    assert sla["closed_at"] is not None and sla["standard_seconds"] == 380 * 60
    assert sum(s["working_seconds"] for s in sla["steps"]) == pytest.approx(sla["working_seconds"])
    step4 = (await client.get("/sla/steps?sop_id=tgr-58-2025&step=4")).json()
    assert step4["count"] >= 6 and {a["step"] for a in step4["attempts"]} == {4}

    query = "/reports/monitoring?sop_id=tgr-58-2025&from=2025-01-01&to=2025-06-30"
    report = (await client.get(query)).json()
    step1 = report["steps"][0]
    assert (step1["runs"], step1["median_seconds"], step1["verdict"]) == (6, 0, "berjalan baik")
    runs = await pool.fetchval("SELECT count(*) FROM ledger_step_attempts WHERE step = 5"
                               " AND completed_at IS NOT NULL")  # fmt: skip
    assert report["steps"][4]["runs"] == runs
    report_csv = (await client.get(query + "&format=csv")).text
    assert report_csv.splitlines()[0].startswith("step,name,role,standard_seconds,runs")
    html = await client.get(query + "&format=html")
    assert html.headers["content-type"].startswith("text/html")
    assert "berjalan baik" in html.text and "<table>" in html.text


BAD_QUERIES = [
    ("/reports/monitoring?sop_id=tgr-58-2025&from=2025-07-01&to=2025-01-01", 422, "to"),
    ("/reports/monitoring?sop_id=tgr-58-2025&to=2025-01-01", 422, "from"),
    ("/reports/monitoring?sop_id=nope&from=2025-01-01&to=2025-02-01", 404, "nope"),
    ("/reports/monitoring?sop_id=tgr-58-2025&from=2025-13-01&to=2025-02-01", 422, "from"),
    ("/reports/monitoring?sop_id=tgr-58-2025&from=2025-01-01&to=2025-02-01&format=xml",
     422, "format"),
    ("/sla/steps?sop_id=tgr-58-2025&step=9", 422, "step"),
    ("/audit?from=2025-01-01", 422, "to"),
    ("/audit/cases/not-a-uuid", 422, "case_id"),
    (f"/audit/cases/{'0' * 8}-0000-4000-8000-{'0' * 12}", 404, "case"),
    ("/audit/actors/ani?limit=0", 422, "limit"),
]  # fmt: skip


async def test_bad_queries_get_a_4xx_naming_the_problem(client: httpx.AsyncClient) -> None:
    for path, status, named in BAD_QUERIES:
        response = await client.get(path)
        assert response.status_code == status, (path, response.text)
        assert named in response.text, (path, response.text)


async def test_routes_need_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/audit?from=2025-01-01&to=2025-01-02", headers={"Authorization": ""}
    )
    assert response.status_code == 401
