"""The scheduling app in-process on real PostgreSQL and NATS, for the booking tests."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from prokopim_events.contracts import CaseFile, DispositionGiven, Requester, RequestReceived
from prokopim_events.envelope import Actor
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.commands import to_new_events
from prokopim_kit.runtime import Runtime, ServiceSettings
from prokopim_scheduling.app import create_app
from prokopim_scheduling.handlers import on_event
from prokopim_sop import Sop


@dataclass
class Svc:
    """The running service; cases are handed over by calling its reaction directly."""

    http: httpx.AsyncClient
    runtime: Runtime
    secret: str

    @property
    def store(self) -> EventStore:
        return self.runtime.store

    def auth(self, role: str) -> dict[str, str]:
        token = issue_token(self.secret, subject=f"{role}-1", role=role, name=f"{role} one")
        return {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, role: str, body: Any) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.auth(role))

    async def put(self, path: str, role: str, body: Any) -> httpx.Response:
        return await self.http.put(path, json=body, headers=self.auth(role))

    async def get(self, path: str, role: str = "ka-bagian") -> httpx.Response:
        return await self.http.get(path, headers=self.auth(role))

    async def types(self, stream: str) -> list[str]:
        return [e.type.removeprefix("prokopim.scheduling.") for e in await self.read(stream)]

    async def read(self, stream: str) -> list[Any]:
        return await self.store.read_stream(stream)

    async def intake(
        self, sop: Sop, *, activity: str = "Peresmian Taman Kota", day: date = date(2026, 12, 8)
    ) -> UUID:
        """Register a case at intake and hand it to scheduling, as intake would."""
        case_id = uuid.uuid4()
        case = CaseFile(
            letter_number=f"800/{case_id.hex[:6]}/DEMO",
            requester=Requester(name="Diskominfo", agency="Diskominfo", email="req@example.org"),
            subject=f"Permohonan: {activity}",
            activity_name=activity,
            activity_date=day,
        )
        common = {"case_id": case_id, "sop_id": sop.id, "sop_version": sop.version}
        received = RequestReceived(**common, step=1, next_step=2, case=case)
        disposition = DispositionGiven(
            **common,
            step=2,
            next_step=3,
            case=case,
            instruction="Tindak lanjuti",
        )
        stream = f"intake-{case_id}"
        events = to_new_events([received, disposition], actor=Actor(id="i", role="intake"))
        await self.store.append(stream, 0, events)
        for stored in await self.store.read_stream(stream):
            async with self.runtime.pool.acquire() as conn, conn.transaction():
                await on_event(self.runtime, stored, conn)
        return case_id


@pytest.fixture
async def svc(
    database_url: str, infra: Any, topology: Topology, nats_client: Any
) -> AsyncIterator[Svc]:
    """The app on this test's database and namespace (`nats_client` provisions its durable)."""
    secret = secrets.token_urlsafe(40)
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=secret,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://scheduling") as http:
            yield Svc(http, app.state.runtime, secret)


async def crew(svc: Svc, office: str, name: str, roles: list[str]) -> str:
    head = "ka-bagian" if office == "bandung" else "kepala-bagian"
    body = {"name": name, "roles": roles, "contact": "0812-0000"}
    response = await svc.post(f"/offices/{office}/crew", head, body)
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["resource_id"]
    return resource_id


async def item(svc: Svc, office: str, kind: str, label: str) -> str:
    head = "ka-bagian" if office == "bandung" else "kepala-bagian"
    response = await svc.post(f"/offices/{office}/equipment", head, {"kind": kind, "label": label})
    assert response.status_code == 201, response.text
    resource_id: str = response.json()["resource_id"]
    return resource_id


def assign_body(member: str, start: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "assignments": [{"name": "Budi", "role": "tim-liputan", "member_id": member}],
        "inputs": {"disposition": "ref://disposisi"},
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "location": "Pendopo",
    } | extra


async def assign(svc: Svc, case_id: UUID, body: dict[str, Any]) -> Any:
    return await svc.post(f"/cases/{case_id}/assignments", "ketua-tim", body)
