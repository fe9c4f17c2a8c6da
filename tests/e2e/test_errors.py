"""The rules every command obeys, checked against the services running as processes."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import pytest
from prokopim_cli.flows import CaseRun, inputs_for, request_body
from prokopim_cli.trail import case_history
from prokopim_sop import load_catalog

from .conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")


async def test_bad_commands_are_refused_by_name_and_write_nothing(system: System) -> None:
    intake = system.running.urls["intake"]
    clerk = {"Authorization": f"Bearer {system.driver.token('pengadministrasi-umum')}"}
    head = {"Authorization": f"Bearer {system.driver.token('ka-bagian')}"}
    body = request_body(BANDUNG, "Rapat Koordinasi", date(2026, 12, 1))
    async with httpx.AsyncClient(base_url=intake) as http:
        assert (await http.post("/cases", json=body)).status_code == 401
        bad = {"Authorization": "Bearer not-a-token"}
        assert (await http.post("/cases", json=body, headers=bad)).status_code == 401

        wrong_role = await http.post("/cases", json=body, headers=head)
        assert wrong_role.status_code == 403
        assert wrong_role.json()["required_role"] == "pengadministrasi-umum"

        missing = await http.post("/cases", json={**body, "inputs": {}}, headers=clerk)
        assert missing.status_code == 422
        assert set(missing.json()["missing_inputs"]) == {i.id for i in BANDUNG.step(1).inputs}

        bad_date = await http.post(
            "/cases", json={**body, "activity_date": "tomorrow"}, headers=clerk
        )
        assert bad_date.status_code == 422
        assert "activity_date" in bad_date.text

        unknown = await http.post(
            "/cases/00000000-0000-4000-8000-000000000000/disposition",
            json={"instruction": "x", "inputs": inputs_for(BANDUNG.step(2))},
            headers=head,
        )
        assert unknown.status_code == 404

        created = await http.post("/cases", json=body, headers=clerk)
        assert created.status_code == 201
        case_id = created.json()["case_id"]
        disposition = {"instruction": "Tindak lanjuti", "inputs": inputs_for(BANDUNG.step(2))}
        racing = await asyncio.gather(
            *(
                http.post(f"/cases/{case_id}/disposition", json=disposition, headers=head)
                for _ in range(2)
            )
        )
        assert sorted(r.status_code for r in racing) == [200, 409]

        again = await http.post(f"/cases/{case_id}/disposition", json=disposition, headers=head)
        assert again.status_code == 409
        assert again.json()["awaiting_step"] == 3

    run = CaseRun(case_id=case_id)
    scheduling = system.running.urls["scheduling"]
    await system.driver.wait_for_step("scheduling", case_id, BANDUNG.step(3))
    async with httpx.AsyncClient(base_url=scheduling) as http:
        team_head = {"Authorization": f"Bearer {system.driver.token('ka-tim-dokpim')}"}
        early = await http.post(
            f"/cases/{case_id}/assignments",
            json={
                "assignments": [{"name": "Budi", "role": "penata-liputan"}],
                "inputs": inputs_for(BANDUNG.step(5)),
            },
            headers=team_head,
        )
        assert early.status_code == 409
        assert early.json()["awaiting_step"] == 3
    assert run.case_id == case_id

    history = await case_history(system.database_url, case_id)
    assert [e.type for e in history] == [
        "prokopim.intake.request-received.v1",
        "prokopim.intake.disposition-given.v1",
        "prokopim.scheduling.step-opened.v1",
    ]
