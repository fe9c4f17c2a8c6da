"""A step's form, turned into the call of the service that owns the step.

The form is built from the SOP (via the ledger's read API): one field per required input
(Kelengkapan, `in-<id>`) and the fields of the step's kind. Nothing is decided here: the
service checks role, order and inputs and says what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .accounts import User
from .services import Services


class FormProblem(ValueError):
    """A field the person must fill in or correct; named so the page can say which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StepCall:
    """What the step's form became: the owning service, the path, the JSON body."""

    service: str
    path: str
    body: dict[str, Any]


def inputs_of(step: dict[str, Any], form: dict[str, str]) -> dict[str, str]:
    """Return the references given for the step's required inputs (blank ones left out)."""
    given = {item["id"]: form.get(f"in-{item['id']}", "").strip() for item in step["inputs"]}
    return {key: value for key, value in given.items() if value}


def _required(form: dict[str, str], field: str) -> str:
    value = form.get(field, "").strip()
    if not value:
        raise FormProblem(field, f"{field} is required")
    return value


def _files(form: dict[str, str], kind: str) -> list[dict[str, str]]:
    refs = [line.strip() for line in form.get("files", "").splitlines() if line.strip()]
    if not refs:
        raise FormProblem("files", "give at least one file reference")
    return [{"kind": kind, "ref": ref} for ref in refs]


def step_call(
    case_id: str, step: dict[str, Any], form: dict[str, str], draft_version: int | None
) -> list[StepCall]:
    """Return the service calls that carry out `step` with this form, in order."""
    case, inputs = f"/cases/{case_id}", inputs_of(step, form)
    service, kind = step["service"], step["kind"]
    match kind:
        case "disposition":
            body: dict[str, Any] = {"instruction": _required(form, "instruction")}
            return [StepCall(service, f"{case}/disposition", {**body, "inputs": inputs})]
        case "coordinate-schedule":
            when = datetime.fromisoformat(_required(form, "scheduled_at"))
            body = {"scheduled_at": when.isoformat(), "location": _required(form, "location")}
            if form.get("notes"):
                body["notes"] = form["notes"]
            return [StepCall(service, f"{case}/schedule", {**body, "inputs": inputs})]
        case "notify-requester":
            body = {"channel": form.get("channel") or "email"}
            if form.get("message"):
                body["message"] = form["message"]
            return [StepCall(service, f"{case}/notification", {**body, "inputs": inputs})]
        case "assign-staff":
            staff = [
                {"name": name.strip(), "role": form.get(f"staff_role-{n}", "").strip() or "staf"}
                | ({"team": form[f"team-{n}"].strip()} if form.get(f"team-{n}") else {})
                for n in range(3)
                if (name := form.get(f"staff_name-{n}", "")) and name.strip()
            ]
            if not staff:
                raise FormProblem("staff_name-0", "assign at least one person")
            return [
                StepCall(service, f"{case}/assignments", {"assignments": staff, "inputs": inputs})
            ]
        case "record" | "cover" | "edit":
            calls = []
            if kind != "edit" and form.get("equipment_ready") != "done":
                ticked = {item["id"]: f"eq-{item['id']}" in form for item in step["inputs"]}
                calls.append(StepCall(service, f"{case}/equipment", {"checklist": ticked}))
            if kind == "record":
                body = {"files": _files(form, "video"), "inputs": inputs}
                return [*calls, StepCall(service, f"{case}/recording", body)]
            body = {"files": _files(form, "draft"), "inputs": inputs}
            if form.get("notes"):
                body["notes"] = form["notes"]
            return [*calls, StepCall(service, f"{case}/drafts", body)]
        case "review":
            decision = form.get("decision")
            if decision not in ("approve", "reject"):
                raise FormProblem("decision", "choose approve or reject")
            reason = form.get("reason", "").strip()
            if decision == "reject" and not reason:
                raise FormProblem("reason", "give the reason for the rejection")
            body = {"decision": decision, "draft_version": draft_version or 1, "inputs": inputs}
            body["step"] = step["number"]
            if reason:
                body["reason" if decision == "reject" else "note"] = reason
            return [StepCall(service, f"{case}/decision", body)]
        case "hand-over":
            return [StepCall(service, f"{case}/handover", {"inputs": inputs})]
        case "publish":
            body = {"inputs": inputs}
            for field in ("title", "body"):
                if form.get(field, "").strip():
                    body[field] = form[field].strip()
            return [StepCall(service, f"{case}/publication", body)]
    raise FormProblem("kind", f"the console has no form for step kind {kind!r}")


async def equipment_ready(services: Services, user: User, case_id: str) -> bool:
    """Return whether production already has the awaited step's equipment ticked."""
    view = await services.get(user, "production", f"/cases/{case_id}")
    return bool(view.get("equipment_ready"))


def latest_draft_version(entries: list[dict[str, Any]]) -> int | None:
    """Return the version of the newest draft in a case's timeline."""
    versions = [
        (entry.get("data") or {}).get("draft", {}).get("version")
        for entry in entries
        if isinstance((entry.get("data") or {}).get("draft"), dict)
    ]
    found = [v for v in versions if isinstance(v, int)]
    return max(found) if found else None


def drafts_of(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return each draft version once (files, notes, who and when), oldest first."""
    seen: dict[int, dict[str, Any]] = {}
    for entry in entries:
        data = entry.get("data") or {}
        draft = data.get("draft")
        if entry["type"].endswith("draft-produced.v1") and isinstance(draft, dict):
            seen[draft["version"]] = {
                **draft,
                "by": entry.get("actor_name") or entry.get("actor_id"),
                "at": entry["occurred_at"],
                "verdicts": [],
            }
        elif entry.get("decision") and isinstance(draft, dict) and draft["version"] in seen:
            seen[draft["version"]]["verdicts"].append(
                {"step": entry["step"], "decision": entry["decision"], "reason": entry["reason"]}
            )
    return [seen[v] for v in sorted(seen)]
