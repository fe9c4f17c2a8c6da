"""Drive a case through a whole SOP over the services' HTTP APIs.

The driver walks the SOP definition itself: for each step the case waits at, it calls the
endpoint of that step's kind on the owning service, as a user holding the step's role. So
it runs any SOP built from the known step kinds, and `reject` plans rejections per step.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
from prokopim_kit.auth import issue_token
from prokopim_sop import Sop, Step, StepKind

WIB = timezone(timedelta(hours=7), "WIB")
CREW_NAME = "Budi (demo)"
MAX_SLOT_TRIES = 60


@dataclass(frozen=True)
class Team:
    """The registered crew member and equipment items a demo case books."""

    member_id: str
    role: str
    equipment: list[str]


@dataclass
class CaseRun:
    """What happened to one case: its id and the HTTP calls made, in order."""

    case_id: str = ""
    calls: list[tuple[str, str, int]] = field(default_factory=list)


class Driver:
    """Calls the five services as the users of each SOP role."""

    def __init__(self, urls: dict[str, str], jwt_secret: str, *, wait_within: float = 30.0):
        self.urls = urls
        self._secret = jwt_secret
        self._wait_within = wait_within
        self.poll_every = 0.05  # seconds between two looks at a case that is to move on
        self._http = httpx.AsyncClient(timeout=30.0)
        self._teams: dict[str, Team] = {}
        self._team_lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    def token(self, role: str) -> str:
        return issue_token(self._secret, subject=f"{role}-demo", role=role, name=f"{role} (demo)")

    async def call(
        self, run: CaseRun, service: str, path: str, role: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST as `role`; raise with the service's error body on failure."""
        response = await self._http.post(
            f"{self.urls[service]}{path}",
            json=body or {},
            headers={"Authorization": f"Bearer {self.token(role)}"},
        )
        run.calls.append((service, path, response.status_code))
        if response.status_code >= 400:
            raise RuntimeError(f"{service} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json() if response.content else {}
        return result

    async def post(self, service: str, path: str, role: str, body: Any) -> httpx.Response:
        return await self._http.post(
            f"{self.urls[service]}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token(role)}"},
        )

    async def team(self, sop: Sop, run: CaseRun) -> Team:
        """Return the office's demo crew member and items, registering them the first time
        (the registrations are recorded in `run`, as the case's run made them)."""
        office = "-".join(sop.city.lower().split())
        async with self._team_lock:
            if office not in self._teams:
                self._teams[office] = await self._register_team(sop, office, run)
            return self._teams[office]

    async def _register_team(self, sop: Sop, office: str, run: CaseRun) -> Team:
        head = next(s.role for s in sop.steps if s.kind is StepKind.DISPOSITION)
        field_steps = [s for s in sop.steps if s.kind in (StepKind.RECORD, StepKind.COVER)]
        role = field_steps[0].role
        base = f"{self.urls['scheduling']}/offices/{office}"
        auth = {"Authorization": f"Bearer {self.token(head)}"}
        crew = await self._all(f"{base}/crew", auth)
        member = next((m for m in crew if m["name"] == CREW_NAME and role in m["roles"]), None)
        if member is None:
            body = {"name": CREW_NAME, "roles": [role], "contact": "demo@example.org"}
            response = await self._http.post(f"{base}/crew", json=body, headers=auth)
            run.calls.append(("scheduling", f"/offices/{office}/crew", response.status_code))
            member = response.raise_for_status().json()
        items = await self._all(f"{base}/equipment", auth)
        equipment = []
        for kind in dict.fromkeys(i.id for s in field_steps for i in s.inputs):
            found = next((i for i in items if i["name"] == f"{kind} (demo)"), None)
            if found is None:
                body = {"kind": kind, "label": f"{kind} (demo)"}
                response = await self._http.post(f"{base}/equipment", json=body, headers=auth)
                path = f"/offices/{office}/equipment"
                run.calls.append(("scheduling", path, response.status_code))
                found = response.raise_for_status().json()
            equipment.append(found["resource_id"])
        return Team(member["resource_id"], role, equipment)

    async def _all(self, url: str, auth: dict[str, str]) -> list[dict[str, Any]]:
        """Return every resource of a paged list, following its `next` links."""
        items: list[dict[str, Any]] = []
        base, link = self.urls["scheduling"], url.removeprefix(self.urls["scheduling"])
        while link:
            page = (await self._http.get(f"{base}{link}", headers=auth)).raise_for_status()
            items += page.json()["resources"]
            link = page.json()["next"]
        return items

    async def book(
        self, run: CaseRun, service: str, path: str, role: str, body: dict[str, Any], field: str
    ) -> dict[str, Any]:
        """POST a command that books; on a clash, move the window past it and try again."""
        for _ in range(MAX_SLOT_TRIES):
            response = await self.post(service, path, role, body)
            run.calls.append((service, path, response.status_code))
            if response.status_code == 409 and response.json().get("error") == "booking_clash":
                after = datetime.fromisoformat(response.json()["clashing_until"])
                body = body | {field: (after + timedelta(hours=1)).isoformat()}
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"{service} {path}: {response.status_code} {response.text}")
            result: dict[str, Any] = response.json()
            return result
        raise RuntimeError(f"{service} {path}: no free slot after {MAX_SLOT_TRIES} tries")

    async def case_view(self, service: str, case_id: str, role: str) -> dict[str, Any] | None:
        response = await self._http.get(
            f"{self.urls[service]}/cases/{case_id}",
            headers={"Authorization": f"Bearer {self.token(role)}"},
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        view: dict[str, Any] = response.json()
        return view

    async def wait_for_step(self, service: str, case_id: str, step: Step) -> dict[str, Any]:
        """Wait until `service` has the case waiting at `step` (it arrives over NATS)."""
        deadline = time.monotonic() + self._wait_within
        while True:
            view = await self.case_view(service, case_id, step.role)
            if view is not None and view.get("awaiting_step") == step.number:
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} never reached step {step.number}: {view}")
            await self.pause(service, case_id)

    async def wait_for_publication(self, service: str, case_id: str, role: str) -> None:
        """Wait until publishing's consumer posted and mailed the ordered publication."""
        deadline = time.monotonic() + self._wait_within
        view: dict[str, Any] | None = None
        while not (view or {}).get("publication"):
            with contextlib.suppress(httpx.TransportError):  # publishing restarting
                view = await self.case_view(service, case_id, role)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} never recorded the publication: {view}")
            await self.pause(service, case_id)

    async def pause(self, service: str, case_id: str) -> None:
        """Wait before looking at `service`'s view of a case again."""
        await asyncio.sleep(self.poll_every)


def inputs_for(step: Step) -> dict[str, str]:
    """Return a reference for every required input (kelengkapan) of a step."""
    return {item.id: f"ref://{item.id}" for item in step.inputs}


def request_body(sop: Sop, activity: str, activity_date: date) -> dict[str, Any]:
    return {
        "sop_id": sop.id,
        "sop_version": sop.version,
        # one letter number per case: intake refuses a number twice in one office
        "letter_number": f"800/{activity_date:%Y%m%d}/{uuid.uuid4().hex[:8]}/DEMO",
        "requester": {
            "name": "Dinas Komunikasi",
            "agency": "Diskominfo",
            "email": "req@example.org",
        },
        "subject": f"Permohonan: {activity}",
        "activity_name": activity,
        "activity_date": activity_date.isoformat(),
        "attachments": [{"kind": "script", "ref": "ref://naskah.pdf"}],
        "inputs": inputs_for(sop.step(1)),
    }


async def run_case(
    driver: Driver,
    sop: Sop,
    *,
    activity: str = "Peresmian Taman Kota",
    reject: dict[int, int] | None = None,
    days_ahead: int = 7,
) -> CaseRun:
    """Run one case from request to the SOP's end, rejecting at the planned review steps;
    its activity (and the crew's booking) is `days_ahead` days from today."""
    run = CaseRun()
    plan = Counter(reject or {})
    activity_date = date.today() + timedelta(days=days_ahead)
    created = await driver.call(
        run, "intake", "/cases", sop.step(1).role, request_body(sop, activity, activity_date)
    )
    run.case_id = created["case_id"]
    current: int | None = sop.next_after(1)
    while current is not None:
        step = sop.step(current)
        view = await driver.wait_for_step(step.service.value, run.case_id, step)
        current = await _do_step(driver, run, sop, step, view, plan, days_ahead)
    return run


async def _do_step(
    driver: Driver,
    run: CaseRun,
    sop: Sop,
    step: Step,
    view: dict[str, Any],
    plan: Counter[int],
    days_ahead: int = 7,
) -> int | None:
    case = f"/cases/{run.case_id}"
    svc, role, inputs = step.service.value, step.role, inputs_for(step)
    hour = datetime.now(WIB).replace(minute=0, second=0, microsecond=0)
    start = hour + timedelta(days=days_ahead)
    when = start.isoformat()
    files = [{"kind": "video", "ref": f"ref://{run.case_id}/take.mp4"}]
    match step.kind:
        case StepKind.DISPOSITION:
            await driver.call(
                run,
                svc,
                f"{case}/disposition",
                role,
                {"instruction": "Tindak lanjuti", "inputs": inputs},
            )
        case StepKind.COORDINATE_SCHEDULE:
            team = await driver.team(sop, run)
            schedule: dict[str, Any] = {"scheduled_at": when, "location": "Balai Kota"}
            schedule |= {"inputs": inputs}
            schedule |= {"crew": [{"member_id": team.member_id, "role": team.role}]}
            schedule |= {"equipment": team.equipment}
            await driver.book(run, svc, f"{case}/schedule", role, schedule, "scheduled_at")
        case StepKind.NOTIFY_REQUESTER:
            await driver.call(
                run, svc, f"{case}/notification", role, {"channel": "email", "inputs": inputs}
            )
        case StepKind.ASSIGN_STAFF:
            team = await driver.team(sop, run)
            member = {"name": CREW_NAME, "role": team.role, "member_id": team.member_id}
            assign: dict[str, Any] = {"assignments": [member | {"team": "A"}], "inputs": inputs}
            if not any(s.kind is StepKind.COORDINATE_SCHEDULE for s in sop.steps):
                assign |= {"starts_at": when, "location": "Balai Kota"}
                assign |= {"equipment": team.equipment}
            await driver.book(run, svc, f"{case}/assignments", role, assign, "starts_at")
        case StepKind.RECORD | StepKind.COVER | StepKind.EDIT:
            if step.kind is not StepKind.EDIT and not view.get("equipment_ready", False):
                checklist = {item.id: True for item in step.inputs}
                await driver.call(run, svc, f"{case}/equipment", role, {"checklist": checklist})
            if step.kind is StepKind.RECORD:
                await driver.call(
                    run, svc, f"{case}/recording", role, {"files": files, "inputs": inputs}
                )
            else:
                await driver.call(
                    run,
                    svc,
                    f"{case}/drafts",
                    role,
                    {"files": files, "notes": "draft", "inputs": inputs},
                )
        case StepKind.REVIEW:
            draft_version = (view.get("draft") or {}).get("version", 1)
            rejecting = plan[step.number] > 0
            body: dict[str, Any] = {
                "decision": "reject" if rejecting else "approve",
                "draft_version": draft_version,
                "inputs": inputs,
            }
            if rejecting:
                plan[step.number] -= 1
                body["reason"] = f"Perbaiki draft (langkah {step.number})"
            await driver.call(run, svc, f"{case}/decision", role, body)
            return step.on_reject if rejecting else sop.next_after(step.number)
        case StepKind.HAND_OVER:
            await driver.call(run, svc, f"{case}/handover", role, {"inputs": inputs})
            await driver.call(run, svc, f"{case}/archive", step.archivist_role or role, {})
        case StepKind.PUBLISH:
            await driver.call(
                run,
                svc,
                f"{case}/publication",
                role,
                {"inputs": inputs, "title": "Siaran pers", "body": "Isi berita"},
            )
            await driver.wait_for_publication(svc, run.case_id, role)
        case _:
            raise ValueError(f"no driver for step kind {step.kind}")
    return sop.next_after(step.number)
