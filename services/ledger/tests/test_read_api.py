"""The read API over real projections: SOPs, worklists with SLA clocks, search, timelines."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_ledger.app import create_app
from prokopim_ledger.config import Settings
from prokopim_ledger.handlers import on_event
from prokopim_ledger.samples import append_case, sample_case
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.integration

SECRET = "ledger-read-api-secret-0123456789abcdef"
START = datetime(2025, 5, 5, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
CATALOG = load_catalog()
TGR = CATALOG.get("tgr-58-2025")
NOW = datetime(2025, 5, 20, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))


@dataclass
class Seeded:
    client: httpx.AsyncClient
    open_cases: dict[str, str]  # case id -> role it waits for
    activities: dict[str, str]  # case id -> activity name


def _token(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, subject=role, role=role)}"}


@pytest.fixture
async def seeded(
    infra: Infra, database_url: str, topology: Topology, nats_client: Any
) -> AsyncIterator[Seeded]:
    """The ledger on sample cases (`nats_client` provisions its durable, as the relay does)."""
    settings = Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    app = create_app(settings, clock=lambda: NOW)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        rng, cal = random.Random(5), WorkingCalendar()
        open_cases, activities = {}, {}

        for n in range(7):
            start = cal.after_working(START, n * 3600.0)
            case_id, events = sample_case(TGR, rng, start, cal, reject_rate=0.0)
            ends = [i for i, (_, e) in enumerate(events) if "next_step" in e.data]
            keep = events if n == 0 else events[: ends[n % 4] + 1]  # case 0 ends, others wait
            await append_case(runtime.store, keep)
            activities[str(case_id)] = keep[0][1].data["case"]["activity_name"]
            if n:
                last = keep[-1][1].data
                open_cases[str(case_id)] = TGR.step(last["next_step"]).role
        # the live path: every stored event through the ledger's own handler
        async with runtime.pool.acquire() as conn:
            for event in (await runtime.store.read_all(limit=10_000)).events:
                async with conn.transaction():
                    await on_event(app.state.ledger, runtime, event, conn)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ledger"
        ) as client:
            yield Seeded(client, open_cases, activities)


async def _all_pages(client: httpx.AsyncClient, url: str, role: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = await client.get(next_url, headers=_token(role))
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        next_url = page["next"]
        if next_url:
            assert response.headers["Link"] == f'<{next_url}>; rel="next"'
    return items


async def test_worklist_lists_exactly_the_cases_waiting_for_the_callers_role(
    seeded: Seeded,
) -> None:
    for role in {r.id for r in TGR.roles}:
        items = await _all_pages(seeded.client, "/worklist?limit=1", role)
        expected = {case for case, waiting in seeded.open_cases.items() if waiting == role}
        assert {item["case_id"] for item in items} == expected
        assert [i["since"] for i in items] == sorted(i["since"] for i in items)
        for item in items:
            assert item["role"] == role
            assert item["activity_name"] == seeded.activities[item["case_id"]]
            clock = item["sla"]
            # weeks after the step was entered: far beyond any standard of this SOP
            assert clock["breached"] and clock["status"] == "breached"
            assert clock["working_seconds"] > clock["standard_seconds"]


async def test_worklist_of_every_role_and_late_filter(seeded: Seeded) -> None:
    items = await _all_pages(seeded.client, "/worklist?all_roles=true&sla=late", "ketua-tim")
    assert {item["case_id"] for item in items} == set(seeded.open_cases)


async def test_bad_cursor_is_a_4xx_naming_the_cursor(seeded: Seeded) -> None:
    response = await seeded.client.get("/worklist?cursor=bm90LWpzb24", headers=_token("ketua-tim"))
    assert response.status_code == 422
    assert "cursor" in response.text


async def test_sops_and_one_sop_with_its_mutu_baku(seeded: Seeded) -> None:
    listed = (await seeded.client.get("/sops", headers=_token("ketua-tim"))).json()
    assert {s["id"] for s in listed["items"]} == {"bdg-setda-010-2024", "tgr-58-2025"}
    sop = (await seeded.client.get("/sops/tgr-58-2025", headers=_token("ketua-tim"))).json()
    assert [s["number"] for s in sop["steps"]] == list(range(1, 8))
    step1 = sop["steps"][0]
    assert step1["role"] == "pengadministrasi-perkantoran"
    assert step1["inputs"][0]["id"] == "request-letter"
    assert step1["standard_seconds"] == 3600.0
    missing = await seeded.client.get("/sops/nope", headers=_token("ketua-tim"))
    assert missing.status_code == 404


async def test_search_by_activity_and_requester_paginates(seeded: Seeded) -> None:
    case_id, activity = next(iter(seeded.activities.items()))
    found = await _all_pages(seeded.client, f"/cases?activity={activity[-4:]}", "ketua-tim")
    assert case_id in {item["case_id"] for item in found}
    assert all(activity[-4:] in item["activity_name"] for item in found)
    everyone = await _all_pages(seeded.client, "/cases?requester=kominfo&limit=2", "ketua-tim")
    assert {item["case_id"] for item in everyone} == set(seeded.activities)
    opened = await _all_pages(seeded.client, "/cases?state=open", "ketua-tim")
    assert {item["case_id"] for item in opened} == set(seeded.open_cases)
    # weeks after their steps were entered: late now, whatever their last event found
    assert {item["sla_status"] for item in opened} == {"breached"}
    none = await _all_pages(seeded.client, "/cases?activity=%25", "ketua-tim")
    assert none == []  # a % is searched for literally


async def test_timeline_across_services_and_unknown_case(seeded: Seeded) -> None:
    closed = next(c for c in seeded.activities if c not in seeded.open_cases)
    response = await seeded.client.get(f"/cases/{closed}/timeline", headers=_token("ketua-tim"))
    body = response.json()
    services = {entry["stream_id"].split("-")[0] for entry in body["entries"]}
    assert services == {"intake", "scheduling", "production", "review", "publishing"}
    assert body["awaiting"] is None and body["closed_at"] is not None
    waiting = next(iter(seeded.open_cases))
    response = await seeded.client.get(f"/cases/{waiting}/timeline", headers=_token("ketua-tim"))
    assert response.json()["sla_status"] == "breached"  # its running step, measured now
    waiting = next(iter(seeded.open_cases))
    body = (
        await seeded.client.get(f"/cases/{waiting}/timeline", headers=_token("ketua-tim"))
    ).json()
    assert body["awaiting"]["role"] == seeded.open_cases[waiting]
    unknown = await seeded.client.get(
        f"/cases/{'0' * 8}-0000-0000-0000-{'0' * 12}/timeline", headers=_token("ketua-tim")
    )
    assert unknown.status_code == 404
    assert (await seeded.client.get("/worklist")).status_code == 401


async def test_search_by_activity_date_finds_exactly_that_days_cases(seeded: Seeded) -> None:
    everyone = await _all_pages(seeded.client, "/cases", "ketua-tim")
    day = date.fromisoformat(everyone[0]["activity_date"])
    for when in (day, day + timedelta(days=1)):
        expected = {i["case_id"] for i in everyone if i["activity_date"] == when.isoformat()}
        url = f"/cases?activity_date={when.isoformat()}&limit=1"
        found = await _all_pages(seeded.client, url, "ketua-tim")
        assert {item["case_id"] for item in found} == expected
        assert len(expected) == (len(everyone) if when == day else 0)  # the samples' one day
    bad = await seeded.client.get("/cases?activity_date=besok", headers=_token("ketua-tim"))
    assert bad.status_code == 422 and "activity_date" in bad.text


async def test_worklist_of_one_person_lists_the_steps_assigned_to_them(seeded: Seeded) -> None:
    every = await _all_pages(seeded.client, "/worklist?all_roles=true", "ketua-tim")
    people = {person for item in every for person in item["assignees"]}
    assert people, "no open step of the sample cases is assigned to anyone"
    for person in people:
        mine = await _all_pages(
            seeded.client, f"/worklist?all_roles=true&assignee={person}&limit=1", "ketua-tim"
        )
        expected = {item["case_id"] for item in every if person in item["assignees"]}
        assert {item["case_id"] for item in mine} == expected


def _same_shape(example: Any, real: Any, where: str) -> None:
    """Assert the example has the real answer's members, recursively (a list by its first
    item; event data is free). OpenAPI leaves out an example's nulls: a member the real
    answer has as null may be missing from the example."""
    if isinstance(example, dict) and isinstance(real, dict):
        assert set(example) <= set(real), f"{where}: not answered: {set(example) - set(real)}"
        shown = {k for k, v in real.items() if v is not None}
        assert shown <= set(example), f"{where}: not in the example: {shown - set(example)}"
        for key in set(example) & set(real) - {"data"}:
            _same_shape(example[key], real[key], f"{where}.{key}")
    elif isinstance(example, list) and isinstance(real, list) and example and real:
        _same_shape(example[0], real[0], f"{where}[0]")


async def test_every_read_route_shows_an_example_shaped_like_its_answer(seeded: Seeded) -> None:
    waiting = next(iter(seeded.open_cases))
    real_urls = {
        "/sops": "/sops",
        "/sops/{sop_id}": "/sops/tgr-58-2025",
        "/worklist": "/worklist?all_roles=true",
        "/cases": "/cases",
        "/cases/{case_id}/timeline": f"/cases/{waiting}/timeline",
        "/position": "/position",
    }
    spec = (await seeded.client.get("/openapi.json")).json()
    for path, url in real_urls.items():
        answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert "example" in answer, f"GET {path} has no example"
        real = (await seeded.client.get(url, headers=_token("ketua-tim"))).json()
        _same_shape(answer["example"], real, path)
