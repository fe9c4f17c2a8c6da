"""A client generated from the OpenAPI documents drives one full Bandung case.

`openapi-python-client` generates a typed package per service from its `/openapi.json`
(into the test's tmp_path), and only those packages are used to talk to the services
running as processes: bodies are the generated models, answers are parsed into them. A
document a generator cannot read, or an answer that does not fit its documented model,
fails here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from prokopim_sop import Step, load_catalog

from .apps import SERVICES, token
from .conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
TAGS = {
    "intake": "intake",
    "scheduling": "scheduling",
    "production": "production",
    "review": "review",
    "publishing": "cases",
    "ledger": "ledger",
}
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


async def generate(service: str, url: str, into: Path) -> None:
    """Generate `<service>_client` from the running service's OpenAPI document."""
    document = into / f"{service}.json"
    async with httpx.AsyncClient() as http:
        document.write_text(json.dumps((await http.get(f"{url}/openapi.json")).json()))
    config = into / f"{service}.yaml"
    config.write_text(f"package_name_override: {service}_client\npost_hooks: []\n")
    process = await asyncio.create_subprocess_exec(
        str(GENERATOR),
        "generate",
        "--path",
        str(document),
        "--output-path",
        str(into / f"{service}_client"),
        "--meta",
        "none",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert b"Warning" not in output, output.decode()


class Clients:
    """The generated packages, one authenticated client per service and role."""

    def __init__(self, system: System) -> None:
        self.system = system

    def client(self, service: str, role: str) -> Any:
        package = importlib.import_module(f"{service}_client")
        return package.AuthenticatedClient(
            base_url=self.system.running.urls[service],
            token=token(role, secret=self.system.secret),
            raise_on_unexpected_status=True,
        )

    def model(self, service: str, name: str, data: dict[str, Any]) -> Any:
        return getattr(importlib.import_module(f"{service}_client.models"), name).from_dict(data)

    async def call(
        self, service: str, operation: str, role: str, *, expect: int = 200, **kwargs: Any
    ) -> Any:
        module: ModuleType = importlib.import_module(
            f"{service}_client.api.{TAGS[service]}.{operation}"
        )
        response = await module.asyncio_detailed(client=self.client(service, role), **kwargs)
        assert response.status_code == expect, (service, operation, response.content)
        return response.parsed

    async def wait_for(self, service: str, case_id: Any, step: Step) -> Any:
        """Poll the service's case view until the case waits for `step` (it comes over NATS)."""
        deadline = time.monotonic() + 120
        while True:
            module = importlib.import_module(f"{service}_client.api.{TAGS[service]}.get_case")
            response = await module.asyncio_detailed(
                case_id=case_id, client=self.client(service, step.role)
            )
            if response.status_code == 200 and response.parsed.awaiting_step == step.number:
                return response.parsed
            assert time.monotonic() < deadline, f"{service} never reached step {step.number}"
            await asyncio.sleep(0.1)


def inputs(number: int) -> dict[str, str]:
    return {item.id: f"ref://{item.id}" for item in BANDUNG.step(number).inputs}


async def test_a_generated_client_drives_a_bandung_case(system: System, tmp_path: Path) -> None:
    await asyncio.gather(*(generate(s, system.running.urls[s], tmp_path) for s in SERVICES))
    sys.path.insert(0, str(tmp_path))
    try:
        await drive(Clients(system))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0].endswith("_client")]:
            del sys.modules[name]


async def drive(c: Clients) -> None:
    s = BANDUNG.step
    day = date.today() + timedelta(days=7)
    letter = c.model(
        "intake",
        "RegisterBody",
        {
            "sop_id": BANDUNG.id,
            "letter_number": "800/17/GEN",
            "requester": {"name": "Siti", "agency": "Diskominfo", "email": "siti@example.go.id"},
            "subject": "Tapping video HUT Kota",
            "activity_name": "HUT Kota",
            "activity_date": day.isoformat(),
            "inputs": inputs(1),
        },
    )
    created = await c.call("intake", "register_request", s(1).role, expect=201, body=letter)
    case_id = created.case_id
    disposition = c.model(
        "intake", "DispositionBody", {"instruction": "Lanjut", "inputs": inputs(2)}
    )
    done = await c.call("intake", "give_disposition", s(2).role, case_id=case_id, body=disposition)
    assert done.next_step == 3

    await c.wait_for("scheduling", case_id, s(3))
    when = datetime.combine(day, datetime.min.time()).isoformat()
    schedule = c.model(
        "scheduling",
        "BookedSchedule",
        {"scheduled_at": when, "location": "Balai Kota", "inputs": inputs(3)},
    )
    await c.call("scheduling", "coordinate_schedule", s(3).role, case_id=case_id, body=schedule)
    notice = c.model("scheduling", "NotificationBody", {"channel": "email", "inputs": inputs(4)})
    sent = await c.call("scheduling", "notify_requester", s(4).role, case_id=case_id, body=notice)
    assert sent.notification.recipient.email == "siti@example.go.id"
    listed = await c.call("scheduling", "list_notifications", s(4).role, case_id=case_id)
    assert [n.notification_id for n in listed.notifications] == [sent.notification.notification_id]
    assert listed.next_ is None
    staff = c.model(
        "scheduling",
        "BookedAssignment",
        {"assignments": [{"name": "Budi", "role": "penata-liputan"}], "inputs": inputs(5)},
    )
    await c.call("scheduling", "assign_staff", s(5).role, case_id=case_id, body=staff)

    await c.wait_for("production", case_id, s(6))
    kit = c.model("production", "EquipmentBody", {"checklist": {i.id: True for i in s(6).inputs}})
    await c.call("production", "prepare_equipment", s(6).role, case_id=case_id, body=kit)
    files = [{"kind": "video", "ref": f"ref://{case_id}/take.mp4"}]
    recording = c.model("production", "RecordingBody", {"files": files, "inputs": inputs(6)})
    await c.call("production", "make_recording", s(6).role, case_id=case_id, body=recording)
    await c.wait_for("production", case_id, s(7))
    draft = c.model("production", "DraftBody", {"files": files, "notes": "v1", "inputs": inputs(7)})
    made = await c.call("production", "produce_draft", s(7).role, case_id=case_id, body=draft)
    assert made.draft.version == 1

    for number in (8, 9):
        await c.wait_for("review", case_id, s(number))
        verdict = c.model(
            "review",
            "DecisionRequest",
            {"decision": "approve", "draft_version": 1, "step": number, "inputs": inputs(number)},
        )
        decided = await c.call("review", "decide", s(number).role, case_id=case_id, body=verdict)
        assert decided.step == number

    await c.wait_for("publishing", case_id, s(10))
    handover = c.model("publishing", "HandOverRequest", {"inputs": inputs(10)})
    await c.call("publishing", "hand_over", s(10).role, case_id=case_id, body=handover)
    archivist = s(10).archivist_role or s(10).role
    archived = await c.call("publishing", "archive", archivist, case_id=case_id)
    assert archived.archive_name.endswith("hut-kota")
    # the requester's contacts: for the role that handed over, not for the editor
    handed = await c.call("publishing", "get_case", s(10).role, case_id=case_id)
    assert handed.handover.recipient.email == "siti@example.go.id"
    editor = await c.call("publishing", "get_case", s(7).role, case_id=case_id)
    assert not editor.handover.recipient.email and not editor.case.requester.email

    deadline = time.monotonic() + 120
    while True:  # the ledger projects the case's last events as they arrive
        trail = await c.call("ledger", "case_trail", "ka-bagian", case_id=case_id)
        if trail.entries[-1].type_ == "prokopim.publishing.recording-archived.v1":
            break
        assert time.monotonic() < deadline, [e.type_ for e in trail.entries]
        await asyncio.sleep(0.2)
    assert trail.next_ is None and trail.count == len(trail.entries)
    assert [e.step for e in trail.entries if e.step is not None][:2] == [1, 2]
    sla = await c.call("ledger", "case_sla", "ka-bagian", case_id=case_id)
    assert [step.step for step in sla.steps] == list(range(1, 11))
