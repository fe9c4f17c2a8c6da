"""Inputs a real client sends by mistake: each refused with a 4xx naming the field, never 500.

Run against the service apps in-process with a stand-in runtime: every refusal here happens
at the edge, before the store is touched (a request that got through would fail loudly).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from prokopim_kit.text import InputLimits

from .apps import bearer
from .conftest import Client

pytestmark = pytest.mark.unit

CASE = "3f0c2a4e-8d5b-4c1e-9a57-2b1f0e6d7c8a"
CLERK = bearer("pengadministrasi-umum")


def letter(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sop_id": "bdg-setda-010-2024",
        "letter_number": "800/123-Diskominfo",
        "requester": {
            "name": "Siti",
            "agency": "Diskominfo",
            "email": "siti@example.go.id",
            "phone": "+62 22 123",
        },
        "subject": "Tapping video HUT Kota",
        "activity_name": "HUT Kota",
        "activity_date": "2026-05-25",
        "attachments": [{"kind": "script", "ref": "doc://scripts/17", "name": "naskah.pdf"}],
        "inputs": {"request-letter": "doc://letters/17", "script": "doc://scripts/17"},
    }
    body.update(changes)
    return body


def with_value(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Return a deep copy of `body` with the field at dotted `path` set to `value`."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target: Any = copy
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return copy


TEXT_FIELDS = [
    "sop_id",
    "letter_number",
    "subject",
    "activity_name",
    "requester.name",
    "requester.agency",
    "attachments.0.kind",
    "attachments.0.ref",
    "attachments.0.name",
    "inputs.script",
    "sop_version",
]


def refused_field(response: Any, status: int = 422) -> list[str]:
    """Assert a problem+json refusal; return the fields it names."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= problem.keys()
    assert problem["status"] == status
    return [error["field"] for error in problem.get("errors", [])]


async def post_raw(client: Any, path: str, raw: str, headers: dict[str, str]) -> Any:
    return await client.post(
        path, content=raw.encode(), headers={**headers, "content-type": "application/json"}
    )


@pytest.mark.parametrize("field", TEXT_FIELDS)
async def test_a_nul_in_any_text_field_is_422_naming_it(stub: Client, field: str) -> None:
    body = with_value(letter(), field, "ab\x00cd")
    response = await stub("intake").post("/cases", json=body, headers=CLERK)
    assert refused_field(response) == [field]
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
async def test_a_lone_surrogate_in_any_text_field_is_422_naming_it(
    stub: Client, field: str
) -> None:
    marker = "LONE-SURROGATE"
    raw = json.dumps(with_value(letter(), field, f"ab{marker}")).replace(marker, "\\ud800")
    response = await post_raw(stub("intake"), "/cases", raw, CLERK)
    assert refused_field(response) == [field]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("char", ["\x07", "\x1b", "\x7f", "\x85", "\r", "\n", "\u2028"])
async def test_control_characters_and_line_breaks_in_one_line_text_are_422(
    stub: Client, field: str, char: str
) -> None:
    body = with_value(letter(), field, f"ab{char}cd")
    response = await stub("intake").post("/cases", json=body, headers=CLERK)
    assert refused_field(response) == [field]


async def test_a_tab_is_fine_but_a_control_character_in_a_note_is_not(stub: Client) -> None:
    client = stub("intake")
    bell = await client.post(
        f"/cases/{CASE}/disposition",
        json={"instruction": "Tindak\tlanjuti\n\x07", "inputs": {}},
        headers=bearer("ka-bagian"),
    )
    assert refused_field(bell) == ["instruction"]


async def test_a_megabyte_activity_name_is_refused_by_its_declared_length(stub: Client) -> None:
    limit = InputLimits().text_max_line
    client = stub("intake")
    just_over = await client.post(
        "/cases", json=letter(activity_name="a" * (limit + 1)), headers=CLERK
    )
    assert refused_field(just_over) == ["activity_name"]
    assert just_over.json()["errors"][0]["code"] == "string_too_long"
    megabyte = await client.post(
        "/cases", json=letter(activity_name="a" * 1_000_000), headers=CLERK
    )
    assert refused_field(megabyte) == ["activity_name"]
    over_the_body_limit = await client.post(
        "/cases", json=letter(activity_name="a" * 1_100_000), headers=CLERK
    )
    refused_field(over_the_body_limit, 413)


async def test_too_many_inputs_or_attachments_are_422(stub: Client) -> None:
    items = InputLimits().list_max_items + 1
    client = stub("intake")
    inputs = {f"k{n}": "v" for n in range(items)}
    assert refused_field(
        await client.post("/cases", json=letter(inputs=inputs), headers=CLERK)
    ) == ["inputs"]
    files = [{"kind": "script", "ref": f"doc://{n}"} for n in range(items)]
    assert refused_field(
        await client.post("/cases", json=letter(attachments=files), headers=CLERK)
    ) == ["attachments"]


@pytest.mark.parametrize(
    "day", ["0001-01-01", "1899-12-31", "9999-12-31", "0000-01-01", "10000-01-01"]
)
async def test_dates_outside_sane_years_are_422(stub: Client, day: str) -> None:
    response = await stub("intake").post("/cases", json=letter(activity_date=day), headers=CLERK)
    assert refused_field(response) == ["activity_date"]


async def test_a_schedule_in_year_one_is_422(stub: Client) -> None:
    response = await stub("scheduling").post(
        f"/cases/{CASE}/schedule",
        json={"scheduled_at": "0001-01-01T09:00:00", "location": "Balai Kota", "inputs": {}},
        headers=bearer("ka-tim-dokpim"),
    )
    assert refused_field(response) == ["scheduled_at"]


COMMANDS = [
    ("intake", "/cases", "pengadministrasi-umum", letter()),
    ("intake", f"/cases/{CASE}/disposition", "ka-bagian", {"instruction": "x", "inputs": {}}),
    (
        "scheduling",
        f"/cases/{CASE}/schedule",
        "ka-tim-dokpim",
        {"scheduled_at": "2026-05-25T09:00:00", "location": "Balai Kota"},
    ),
    ("scheduling", f"/cases/{CASE}/notifications", "koordinator-kpp", {"channel": "email"}),
    (
        "scheduling",
        f"/cases/{CASE}/assignments",
        "ka-tim-dokpim",
        {"assignments": [{"name": "Budi", "role": "penata-liputan"}]},
    ),
    ("production", f"/cases/{CASE}/equipment", "penata-liputan", {"checklist": {"mic": True}}),
    (
        "production",
        f"/cases/{CASE}/recording",
        "penata-liputan",
        {"files": [{"kind": "video", "ref": "doc://v"}]},
    ),
    (
        "production",
        f"/cases/{CASE}/drafts",
        "penata-liputan",
        {"files": [{"kind": "video", "ref": "doc://v"}]},
    ),
    (
        "review",
        f"/cases/{CASE}/decisions",
        "koordinator-kpp",
        {"decision": "approve", "draft_version": 1},
    ),
    ("publishing", f"/cases/{CASE}/handover", "ka-bagian", {"inputs": {}}),
    ("publishing", f"/cases/{CASE}/publication", "tim-liputan", {"inputs": {}}),
    ("publishing", "/outlets", "kepala-bagian", {"name": "Koran", "email": "r@koran.example"}),
]


@pytest.mark.parametrize(("service", "path", "role", "body"), COMMANDS)
async def test_every_command_body_refuses_unknown_fields(
    stub: Client, service: str, path: str, role: str, body: dict[str, Any]
) -> None:
    response = await stub(service).post(
        path, json={**body, "approved_by": "me"}, headers=bearer(role)
    )
    assert refused_field(response) == ["approved_by"]


@pytest.mark.parametrize(
    ("service", "path", "role", "body", "field"),
    [
        (
            "production",
            f"/cases/{CASE}/equipment",
            "penata-liputan",
            {"checklist": {"a\x00": True}},
            "checklist.a\x00",
        ),
        (
            "review",
            f"/cases/{CASE}/decisions",
            "koordinator-kpp",
            {"decision": "reject", "draft_version": 1, "reason": "x\x00"},
            "reason",
        ),
        (
            "review",
            f"/cases/{CASE}/decisions",
            "koordinator-kpp",
            {"decision": "approve", "draft_version": 2**70},
            "draft_version",
        ),
        (
            "scheduling",
            f"/cases/{CASE}/notifications",
            "koordinator-kpp",
            {"channel": "email", "message": "\x00"},
            "message",
        ),
        (
            "scheduling",
            f"/cases/{CASE}/assignments",
            "ka-tim-dokpim",
            {"assignments": [{"name": "B\nudi", "role": "x"}]},
            "assignments.0.name",
        ),
        (
            "publishing",
            f"/cases/{CASE}/publication",
            "tim-liputan",
            {"inputs": {}, "title": "Judul\r\nBcc: a@b.c"},
            "title",
        ),
        (
            "publishing",
            f"/cases/{CASE}/publication",
            "tim-liputan",
            {"inputs": {}, "body": "x" * 20_001},
            "body",
        ),
        (
            "publishing",
            "/outlets",
            "kepala-bagian",
            {"name": "K\x00", "email": "r@koran.example"},
            "name",
        ),
    ],
)
async def test_bad_text_in_other_services_is_422_naming_the_field(
    stub: Client, service: str, path: str, role: str, body: dict[str, Any], field: str
) -> None:
    response = await stub(service).post(path, json=body, headers=bearer(role))
    fields = refused_field(response)
    assert len(fields) == 1 and fields[0].startswith(field), fields


LEDGER = bearer("kepala-bagian")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("/audit?from=2026-01-01&to=2026-01-31&after=9223372036854775808", "after"),
        ("/audit?from=2026-01-01&to=2026-01-31&after=-1", "after"),
        ("/audit?from=0001-01-01&to=9999-12-31", "from"),
        ("/audit?from=2026-02-01&to=2026-01-01", "to"),
        ("/audit?from=2001-01-01&to=2099-12-31", "to"),
        ("/audit?from=2026-01-01&to=2026-01-31&limit=0", "limit"),
        ("/audit?from=2026-01-01&to=2026-01-31&limit=100000000", "limit"),
        ("/audit?from=2026-01-01&to=2026-01-31&cursor=not-ours", "cursor"),
        ("/audit?from=2026-01-01&to=2026-01-31&cursor=%00", "cursor"),
        ("/audit?from=10000-01-01&to=2026-01-31", "from"),
        ("/audit/actors/%00", "actor_id"),
        ("/audit/actors/a%0Ab", "actor_id"),
        ("/audit/actors/" + "a" * 300, "actor_id"),
        ("/audit/actors/x?from=0001-01-01", "from"),
        ("/sla/steps?sop_id=%00", "sop_id"),
        ("/sla/steps?sop_id=bdg-setda-010-2024&step=99999999999", "step"),
        ("/reports/monitoring?sop_id=bdg-setda-010-2024&from=0001-01-01&to=9999-12-31", "from"),
        (
            "/reports/monitoring?sop_id=bdg-setda-010-2024&from=2026-01-01&to=2026-06-30&version=%00",
            "version",
        ),
    ],
)
async def test_ledger_queries_out_of_bounds_are_422_naming_the_parameter(
    stub: Client, query: str, field: str
) -> None:
    response = await stub("ledger").get(query, headers=LEDGER)
    assert response.status_code == 422, response.text
    problem = response.json()
    named = [e["field"] for e in problem.get("errors", [])] or [problem.get("field")]
    assert named == [field]


@pytest.mark.parametrize(
    "claims",
    [{"sub": ""}, {"sub": "   "}, {"sub": None}, {"sub": "a\x00b"}, {"role": ""}, {"role": None}],
)
async def test_a_token_without_a_subject_or_role_is_401(
    stub: Client, claims: dict[str, Any]
) -> None:
    response = await stub("intake").post(
        "/cases", json=letter(), headers=bearer("pengadministrasi-umum", **claims)
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="prokopim", error="invalid_token"'
    )


@pytest.mark.parametrize("raw", [b"\xff\xfe(", b"{", b"\x80", b"[1, 2"])
async def test_a_body_that_is_not_json_is_422_naming_the_body(stub: Client, raw: bytes) -> None:
    response = await stub("review").post(
        f"/cases/{CASE}/decisions",
        content=raw,
        headers={**bearer("koordinator-kpp"), "content-type": "application/json"},
    )
    assert refused_field(response) == ["body"]


async def test_an_unknown_query_parameter_is_422_naming_it(stub: Client) -> None:
    response = await stub("ledger").get("/audit?form=2026-01-01&to=2026-01-31", headers=LEDGER)
    assert refused_field(response) == ["form"]
    listed = await stub("publishing").get("/outlets?limit=5&include_inactiv=true", headers=LEDGER)
    assert refused_field(listed) == ["include_inactiv"]
