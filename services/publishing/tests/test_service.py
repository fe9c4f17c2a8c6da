"""Publishing in-process against real PostgreSQL, NATS JetStream, SMTP and HTTP servers.

Review's approval is appended to the store as review would; the relay puts it on NATS and
publishing's consumer opens the case, exactly as in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Draft,
    DraftApproved,
    NewsPublished,
    OutletMailed,
    PublicationOrdered,
    PublishingStepOpened,
    RecordingArchived,
    RecordingHandedOver,
    Requester,
)
from prokopim_events.db import create_pool
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.relay import Relay
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.commands import to_new_events
from prokopim_publishing.app import create_app
from prokopim_publishing.config import Settings
from prokopim_sop import load_catalog

from .conftest import SmtpServer, WebsiteStub

pytestmark = pytest.mark.integration

SECRET = "publishing-tests-secret-0123456789abcdef"
CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
HANDOVER_INPUTS = {"computer": "laptop-03", "network": "lan-setda"}
PUBLISH_INPUTS = {"press-release": "dms://pr/1", "photos": "dms://photos/1"}
DEADLINE = 60.0
T = TypeVar("T")


@dataclass
class Harness:
    client: httpx.AsyncClient
    store: EventStore
    archive_dir: Path
    app: Any = None

    def auth(self, role: str) -> dict[str, str]:
        token = issue_token(SECRET, subject=f"user-{role}", role=role)
        return {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, role: str, body: Any = None) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth(role))

    async def events(self, stream: str) -> list[StoredEvent]:
        return await self.store.read_stream(stream)

    async def approve(
        self, sop_id: str, review_step: int, activity: str, email: str | None = None
    ) -> uuid.UUID:
        """Append review's approval of a fresh case, as the review service would."""
        sop = CATALOG.get(sop_id)
        case_id = uuid.uuid4()
        approval = DraftApproved(
            case_id=case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=review_step,
            next_step=sop.next_after(review_step),
            inputs={"initials": "paraf-kabag"},
            case=CaseFile(
                letter_number="005/77/SETDA",
                requester=Requester(name="Dinas Pertamanan", agency="DPKP", email=email),
                subject="Rekaman sambutan Wali Kota",
                activity_name=activity,
                activity_date=date(2026, 3, 14),
            ),
            draft=Draft(
                version=3,
                files=[
                    Attachment(kind="video", ref="dms://video/final.mp4", name="final.mp4"),
                    Attachment(kind="photo", ref="dms://photos/1.jpg"),
                ],
                notes="Wali Kota meresmikan taman kota.",
            ),
            level=2,
            reviewer="kabag",
        )
        actor = Actor(id="kabag", role=sop.step(review_step).role)
        await self.store.append(f"review-{case_id}", 0, to_new_events([approval], actor=actor))
        return case_id

    async def opened(self, case_id: uuid.UUID, role: str = "ka-bagian") -> dict[str, Any]:
        """Wait until publishing took the case up; return its view."""

        async def view() -> dict[str, Any] | None:
            response = await self.client.get(f"/cases/{case_id}", headers=self.auth(role))
            return response.json() if response.status_code == 200 else None

        return await eventually(view)

    async def published(self, case_id: uuid.UUID) -> dict[str, Any]:
        """Wait until publishing's consumer recorded the publication; return the view."""

        async def done() -> dict[str, Any] | None:
            view = await self.opened(case_id)
            return view if view.get("publication") else None

        return await eventually(done)


async def eventually(check: Callable[[], Awaitable[T | None]], within: float = DEADLINE) -> T:
    """Poll `check` until it returns something, failing after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (result := await check()) is None:
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
    return result


@contextlib.asynccontextmanager
async def running(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    archive_dir: Path,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    settings = Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
        archive_dir=archive_dir,
        smtp_sender="humas@tangerangkota.example",
        **overrides,
    )
    app = create_app(settings)
    pool = await create_pool(database_url)
    store = EventStore(pool)
    relay = Relay(
        store, nats_client.jetstream(), topology, dsn=database_url, name=topology.namespace
    )
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://publishing") as client,
        ):
            yield Harness(client, store, archive_dir, app)
    finally:
        stop.set()
        await relay_task
        await store.drain()
        await pool.close()


@pytest.fixture
async def service(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    tmp_path: Path,
    website: WebsiteStub,
    smtp_server: SmtpServer,
) -> AsyncIterator[Harness]:
    async with running(
        infra,
        database_url,
        topology,
        nats_client,
        tmp_path / "arsip",
        website_url=website.url,
        smtp_port=smtp_server.port,
    ) as harness:
        yield harness


async def register_outlets(svc: Harness, *emails: str) -> list[str]:
    ids = []
    for number, email in enumerate(emails, start=1):
        response = await svc.post(
            "/outlets", "kepala-bagian", {"name": f"Media {number}", "email": email}
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["outlet_id"])
    return ids


# --- Tangerang -----------------------------------------------------------------------------
async def test_publish_posts_to_the_website_and_emails_only_active_outlets(
    service: Harness, website: WebsiteStub, smtp_server: SmtpServer
) -> None:
    a, b, c = await register_outlets(
        service, "a@media.example", "b@media.example", "c@media.example"
    )
    response = await service.post(f"/outlets/{b}/deactivate", "ka-bagian")
    assert response.status_code == 200 and response.json()["active"] is False

    case_id = await service.approve(TANGERANG.id, 6, "Peresmian Taman Kota")
    view = await service.opened(case_id, role="tim-liputan")
    assert (view["awaiting_step"], view["awaiting"]) == (7, "publish")
    assert view["draft"]["version"] == 3 and view["sop"] == {
        "id": TANGERANG.id,
        "version": "2025.1",
    }

    response = await service.post(
        f"/cases/{case_id}/publication",
        "tim-liputan",
        {"inputs": PUBLISH_INPUTS, "title": "Taman Kota diresmikan"},
    )
    assert response.status_code == 202, response.text
    ordered = response.json()
    assert sorted(o["outlet_id"] for o in ordered["outlets"]) == sorted([a, c])
    view = await service.published(case_id)
    published = view["publication"]
    assert published["website_url"] == website.published_url(str(case_id))
    assert sorted(published["emailed_outlets"]) == sorted([a, c])
    assert published["failed_outlets"] == []

    stored = await service.events(f"publishing-{case_id}")
    order_id = stored[1].event_id
    (post,) = website.posts
    assert post.headers["idempotency-key"] == str(uuid.uuid5(order_id, "website"))
    assert post.json["title"] == "Taman Kota diresmikan"
    assert post.json["activity_name"] == "Peresmian Taman Kota"
    assert post.json["activity_date"] == "2026-03-14"
    assert [f["ref"] for f in post.json["files"]] == ["dms://video/final.mp4", "dms://photos/1.jpg"]

    assert smtp_server.inbox.recipients() == ["a@media.example", "c@media.example"]
    for mail in smtp_server.inbox.mails:
        assert mail.message["Subject"] == "Taman Kota diresmikan"
        assert published["website_url"] in mail.message.get_content()

    assert [e.type for e in stored] == [
        PublishingStepOpened.TYPE,
        PublicationOrdered.TYPE,
        OutletMailed.TYPE,
        OutletMailed.TYPE,
        NewsPublished.TYPE,
    ]
    assert {e.actor.role for e in stored[1:]} == {"tim-liputan"}
    assert {e.causation_id for e in stored[2:]} == {order_id}
    assert stored[-1].data["emailed_outlets"] == published["emailed_outlets"]
    assert sorted(d["state"] for d in view["deliveries"]) == ["sent"] * 3

    assert view["awaiting_step"] is None and view["publication"]["website_url"]
    again = await service.post(
        f"/cases/{case_id}/publication", "tim-liputan", {"inputs": PUBLISH_INPUTS}
    )
    assert again.status_code == 202 and again.json() == ordered  # the first answer
    assert len(website.posts) == 1 and len(smtp_server.inbox.mails) == 2


async def test_publish_errors_name_what_is_wrong_and_write_nothing(
    service: Harness, website: WebsiteStub, smtp_server: SmtpServer
) -> None:
    case_id = await service.approve(TANGERANG.id, 6, "Rapat Paripurna")
    await service.opened(case_id)
    path = f"/cases/{case_id}/publication"

    response = await service.post(path, "kepala-bagian", {"inputs": PUBLISH_INPUTS})
    assert response.status_code == 403 and response.json()["required_role"] == "tim-liputan"
    response = await service.post(path, "tim-liputan", {"inputs": {"press-release": "x"}})
    assert response.status_code == 422 and response.json()["missing_inputs"] == ["photos"]
    response = await service.post(path, "tim-liputan", {"title": "no inputs"})
    assert response.status_code == 422 and "inputs" in response.text
    response = await service.post(f"/cases/{case_id}/handover", "tim-liputan", {"inputs": {}})
    assert response.status_code == 409 and response.json()["awaiting_step"] == 7
    response = await service.post(f"/cases/{case_id}/archive", "pengadministrasi-umum")
    assert response.status_code == 409 and response.json()["awaiting_step"] == 7
    response = await service.client.post(path, json={"inputs": PUBLISH_INPUTS})
    assert response.status_code == 401
    response = await service.post(
        f"/cases/{uuid.uuid4()}/publication", "tim-liputan", {"inputs": PUBLISH_INPUTS}
    )
    assert response.status_code == 404 and response.json()["error"] == "unknown_case"
    response = await service.client.get(
        f"/cases/{uuid.uuid4()}", headers=service.auth("tim-liputan")
    )
    assert response.status_code == 404

    assert [e.type for e in await service.events(f"publishing-{case_id}")] == [
        PublishingStepOpened.TYPE
    ]
    assert website.posts == [] and smtp_server.inbox.mails == []


async def test_racing_publications_email_once_and_record_once(
    service: Harness, website: WebsiteStub, smtp_server: SmtpServer
) -> None:
    await register_outlets(service, "a@media.example", "b@media.example")
    case_id = await service.approve(TANGERANG.id, 6, "Pelantikan Pejabat")
    await service.opened(case_id)

    responses = await asyncio.gather(
        *(
            service.post(f"/cases/{case_id}/publication", "tim-liputan", {"inputs": PUBLISH_INPUTS})
            for _ in range(2)
        )
    )
    assert {r.status_code for r in responses} <= {202, 409}
    assert 202 in {r.status_code for r in responses}
    await service.published(case_id)
    assert smtp_server.inbox.recipients() == ["a@media.example", "b@media.example"]
    types = [e.type for e in await service.events(f"publishing-{case_id}")]
    assert types.count(PublicationOrdered.TYPE) == 1 and types.count(NewsPublished.TYPE) == 1
    assert len(website.posts) == 1


async def test_a_failing_website_is_retried_with_one_key_and_mails_go_out_once(
    service: Harness, website: WebsiteStub, smtp_server: SmtpServer
) -> None:
    await register_outlets(service, "a@media.example")
    case_id = await service.approve(TANGERANG.id, 6, "Festival Cisadane")
    await service.opened(case_id)
    website.status = 503

    response = await service.post(
        f"/cases/{case_id}/publication", "tim-liputan", {"inputs": PUBLISH_INPUTS}
    )
    assert response.status_code == 202, response.text

    async def retrying() -> list[dict[str, Any]] | None:
        view = await service.opened(case_id)
        states = [d for d in view["deliveries"] if d["state"] == "retrying"]
        return states or None

    (delivery,) = await eventually(retrying)
    assert delivery["target"] == "website" and "503" in delivery["last_error"]
    assert smtp_server.inbox.mails == []  # no mail before the website has the news
    website.status = 201

    view = await service.published(case_id)
    assert len({p.headers["idempotency-key"] for p in website.posts}) == 1
    assert smtp_server.inbox.recipients() == ["a@media.example"]
    (site,) = [d for d in view["deliveries"] if d["target"] == "website"]
    assert site["state"] == "sent" and site["attempts"] == len(website.posts) >= 2


async def test_smtp_down_is_retried_and_each_outlet_is_mailed_once(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    tmp_path: Path,
    website: WebsiteStub,
    smtp_down: SmtpServer,
) -> None:
    async with running(
        infra,
        database_url,
        topology,
        nats_client,
        tmp_path / "arsip",
        website_url=website.url,
        smtp_port=smtp_down.port,
        smtp_timeout=5.0,
        delivery_attempts=5,
    ) as svc:
        await register_outlets(svc, "a@media.example")
        case_id = await svc.approve(TANGERANG.id, 6, "Festival Cisadane")
        await svc.opened(case_id)
        path = f"/cases/{case_id}/publication"

        response = await svc.post(path, "tim-liputan", {"inputs": PUBLISH_INPUTS})
        assert response.status_code == 202, response.text

        async def mail_retrying() -> bool | None:
            view = await svc.opened(case_id)
            return (
                any(
                    d["target"].startswith("outlet:") and d["state"] == "retrying"
                    for d in view["deliveries"]
                )
                or None
            )

        await eventually(mail_retrying)
        await smtp_down.start()
        view = await svc.published(case_id)
        assert len(website.posts) == 1
        assert smtp_down.inbox.recipients() == ["a@media.example"]
        types = [e.type for e in await svc.events(f"publishing-{case_id}")]
        assert types == [
            PublishingStepOpened.TYPE,
            PublicationOrdered.TYPE,
            OutletMailed.TYPE,
            NewsPublished.TYPE,
        ]
        (mail,) = [d for d in view["deliveries"] if d["target"].startswith("outlet:")]
        assert mail["state"] == "sent" and mail["attempts"] >= 2


# --- Bandung -------------------------------------------------------------------------------
async def test_hand_over_then_archive_writes_the_manifest_named_by_the_sop_rule(
    service: Harness,
) -> None:
    case_id = await service.approve(BANDUNG.id, 9, "Peresmian Taman Kota")
    view = await service.opened(case_id)
    assert (view["awaiting_step"], view["awaiting"]) == (10, "hand-over")
    handover, archive = f"/cases/{case_id}/handover", f"/cases/{case_id}/archive"

    response = await service.post(archive, "pengadministrasi-umum")
    assert response.status_code == 409 and response.json()["awaiting_step"] == 10
    response = await service.post(handover, "penata-liputan", {"inputs": HANDOVER_INPUTS})
    assert response.status_code == 403 and response.json()["required_role"] == "ka-bagian"
    response = await service.post(handover, "ka-bagian", {"inputs": {"computer": "laptop"}})
    assert response.status_code == 422 and response.json()["missing_inputs"] == ["network"]

    response = await service.post(handover, "ka-bagian", {"inputs": HANDOVER_INPUTS})
    assert response.status_code == 200, response.text
    handed = response.json()
    assert handed["archive_name"] == "2026-03-14_peresmian-taman-kota"
    assert handed["archivist_role"] == "pengadministrasi-umum"
    assert handed["recipient"]["name"] == "Dinas Pertamanan"
    assert (handed["step"], handed["next_step"], handed["draft_version"]) == (10, None, 3)
    response = await service.post(handover, "ka-bagian", {"inputs": HANDOVER_INPUTS})
    assert response.status_code == 409

    assert (await service.opened(case_id))["awaiting"] == "archive"
    response = await service.post(archive, "ka-bagian")
    assert response.status_code == 403
    assert response.json()["required_role"] == "pengadministrasi-umum"
    response = await service.post(archive, "pengadministrasi-umum")
    assert response.status_code == 200, response.text
    manifest_path = service.archive_dir / "2026-03-14_peresmian-taman-kota.json"
    assert response.json()["location"] == str(manifest_path.resolve())
    manifest = json.loads(manifest_path.read_text())
    assert manifest["case_id"] == str(case_id) and manifest["draft_version"] == 3
    assert [f["ref"] for f in manifest["files"]] == ["dms://video/final.mp4", "dms://photos/1.jpg"]
    response = await service.post(archive, "pengadministrasi-umum")
    assert response.status_code == 409 and response.json()["error"] == "already_archived"

    stored = await service.events(f"publishing-{case_id}")
    assert [e.type for e in stored] == [
        PublishingStepOpened.TYPE,
        RecordingHandedOver.TYPE,
        RecordingArchived.TYPE,
    ]
    (approval,) = await service.events(f"review-{case_id}")
    assert stored[0].event_id == uuid.uuid5(approval.event_id, "publishing")
    assert stored[0].causation_id == approval.event_id
    assert stored[0].correlation_id == approval.correlation_id
    assert stored[2].actor.role == "pengadministrasi-umum"
    view = await service.opened(case_id)
    assert view["awaiting"] is None and view["archive"]["archive_name"] == handed["archive_name"]


async def test_racing_hand_overs_one_wins(service: Harness) -> None:
    case_id = await service.approve(BANDUNG.id, 9, "Rapat Koordinasi")
    await service.opened(case_id)
    responses = await asyncio.gather(
        *(
            service.post(f"/cases/{case_id}/handover", "ka-bagian", {"inputs": HANDOVER_INPUTS})
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    types = [e.type for e in await service.events(f"publishing-{case_id}")]
    assert types == [PublishingStepOpened.TYPE, RecordingHandedOver.TYPE]


async def test_approvals_handing_to_another_review_step_are_ignored(service: Harness) -> None:
    ignored = await service.approve(TANGERANG.id, 5, "Rapat Paripurna")  # goes to step 6
    taken = await service.approve(TANGERANG.id, 6, "Rapat Paripurna")
    await service.opened(taken)
    # The consumer handles events in order, so the earlier one has been seen by now.
    assert await service.events(f"publishing-{ignored}") == []


# --- media registry ------------------------------------------------------------------------
async def test_media_registry_rules(service: Harness) -> None:
    (a,) = await register_outlets(service, "redaksi@koran.example")

    response = await service.post("/outlets", "tim-liputan", {"name": "X", "email": "x@m.example"})
    assert response.status_code == 403
    assert response.json()["required_roles"] == ["ka-bagian", "kepala-bagian"]
    response = await service.post(
        "/outlets", "ka-bagian", {"name": "Y", "email": "Redaksi@Koran.example"}
    )
    assert response.status_code == 409 and response.json()["outlet_id"] == a
    response = await service.post("/outlets", "ka-bagian", {"name": "Z", "email": "not-an-email"})
    assert response.status_code == 422
    missing = uuid.uuid4()
    response = await service.client.put(
        f"/outlets/{missing}",
        json={"name": "Z", "email": "z@m.example"},
        headers=service.auth("ka-bagian"),
    )
    assert response.status_code == 404
    response = await service.post(f"/outlets/{missing}/deactivate", "ka-bagian")
    assert response.status_code == 404

    response = await service.client.put(
        f"/outlets/{a}",
        json={"name": "Koran Kota", "email": "desk@koran.example"},
        headers=service.auth("ka-bagian"),
    )
    assert response.status_code == 200 and response.json()["email"] == "desk@koran.example"
    response = await service.post(f"/outlets/{a}/deactivate", "kepala-bagian")
    assert response.status_code == 200
    response = await service.post(f"/outlets/{a}/deactivate", "kepala-bagian")
    assert response.status_code == 409

    listed = (await service.client.get("/outlets", headers=service.auth("tim-liputan"))).json()
    assert listed["outlets"] == [
        {"outlet_id": a, "name": "Koran Kota", "email": "desk@koran.example", "active": False}
    ]
    assert listed["next"] is None
    types = [e.type for e in await service.events("publishing-outlets")]
    assert types == [
        "prokopim.publishing.media-outlet-registered.v1",
        "prokopim.publishing.media-outlet-updated.v1",
        "prokopim.publishing.media-outlet-deactivated.v1",
    ]


async def test_a_case_whose_sop_version_is_no_longer_installed_gets_409(service: Harness) -> None:
    case_id = uuid.uuid4()
    opened = PublishingStepOpened(
        case_id=case_id,
        sop_id=BANDUNG.id,
        sop_version="0-removed",
        step=10,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=CaseFile(
            letter_number="005/77/SETDA",
            requester=Requester(name="Dinas Pertamanan", agency="DPKP"),
            subject="Rekaman sambutan Wali Kota",
            activity_name="Peresmian",
            activity_date=date(2026, 3, 14),
        ),
        draft=Draft(version=1, files=[Attachment(kind="video", ref="dms://video/final.mp4")]),
    )
    system = Actor(id="publishing", role="system")
    await service.store.append(f"publishing-{case_id}", 0, to_new_events([opened], actor=system))

    response = await service.post(
        f"/cases/{case_id}/handover", "ka-bagian", {"inputs": HANDOVER_INPUTS}
    )

    assert response.status_code == 409, response.text
    assert "sop_not_installed" in response.text and "0-removed" in response.text
