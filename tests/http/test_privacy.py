"""Requester contacts are read only by the roles whose steps deal with the requester."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import CaseFile, Requester
from prokopim_events.topology import Topology
from prokopim_kit.privacy import redact_case, sees_contacts
from prokopim_sop import load_catalog

from .apps import bearer, build
from .test_bad_input import letter

CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sop_id", "role", "sees"),
    [
        ("bdg-setda-010-2024", "pengadministrasi-umum", True),  # receives the request
        ("bdg-setda-010-2024", "ka-bagian", True),  # disposition, hand-over
        ("bdg-setda-010-2024", "koordinator-kpp", True),  # notifies the requester
        ("bdg-setda-010-2024", "penata-liputan", False),
        ("bdg-setda-010-2024", "ka-tim-dokpim", False),
        ("tgr-58-2025", "tim-liputan", False),
        ("tgr-58-2025", "ka-bagian", False),  # a Bandung role, not Tangerang's
    ],
)
def test_only_the_roles_of_requester_steps_see_contacts(sop_id: str, role: str, sees: bool) -> None:
    case = CaseFile(
        letter_number="1",
        requester=Requester(name="Siti", agency="X", email="siti@example.go.id", phone="0812"),
        subject="s",
        activity_name="a",
        activity_date=date(2026, 5, 25),
    )
    shown = redact_case(case, CATALOG.get(sop_id), role)
    assert sees_contacts(CATALOG.get(sop_id), role) is sees
    assert (shown.requester.email is not None, shown.requester.phone is not None) == (sees, sees)
    assert shown.requester.name == "Siti"


@pytest.fixture
async def intake(
    infra: Infra, database_url: str, topology: Topology, nats_client: object
) -> AsyncIterator[httpx.AsyncClient]:
    app = build(
        "intake",
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            yield client


@pytest.mark.integration
async def test_a_case_s_contacts_are_hidden_from_other_roles(intake: httpx.AsyncClient) -> None:
    created = await intake.post("/cases", json=letter(), headers=bearer("pengadministrasi-umum"))
    assert created.status_code == 201, created.text
    path = created.headers["location"]

    clerk = (await intake.get(path, headers=bearer("pengadministrasi-umum"))).json()
    assert clerk["case"]["requester"]["email"] == "siti@example.go.id"
    assert clerk["case"]["requester"]["phone"] == "+62 22 123"
    editor = (await intake.get(path, headers=bearer("penata-liputan"))).json()
    assert editor["case"]["requester"] == {
        "name": "Siti",
        "agency": "Diskominfo",
        "email": None,
        "phone": None,
    }
    stranger = await intake.get(path, headers=bearer("tamu"))
    assert stranger.status_code == 403
