"""Intake's request bodies: the domain's commands with every field bounded and clean.

Each body is a subclass of its command in `domain.py`, so the service receives exactly the
command it always did; here the fields only gain their limits (`prokopim_kit.text`), and
the OpenAPI document an example of each.
"""

from __future__ import annotations

from typing import Any

from prokopim_kit.bodies import Attachments, RequesterBody
from prokopim_kit.text import FilledNote, Inputs, Key, Line, OfficeDate
from pydantic import ConfigDict, Field

from .domain import GiveDisposition, RegisterRequest

REGISTER_EXAMPLE: dict[str, Any] = {
    "sop_id": "bdg-setda-010-2024",
    "letter_number": "800/123-Diskominfo",
    "requester": {"name": "Siti", "agency": "Diskominfo", "email": "siti@example.go.id"},
    "subject": "Tapping video HUT Kota",
    "activity_name": "HUT Kota Bandung",
    "activity_date": "2026-05-25",
    "attachments": [{"kind": "script", "ref": "doc://scripts/17", "name": "naskah.pdf"}],
    "inputs": {"request-letter": "doc://letters/17", "script": "doc://scripts/17"},
}


class RegisterBody(RegisterRequest):
    """Register a request letter as a new case at the SOP's first step."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"examples": [REGISTER_EXAMPLE]}
    )

    sop_id: Key = Field(description="SOP id, e.g. bdg-setda-010-2024")
    sop_version: Key | None = Field(default=None, description="None: the latest version")
    letter_number: Line
    requester: RequesterBody
    subject: Line
    activity_name: Line
    activity_date: OfficeDate
    # a list of the contract's subclass: what the domain receives is still a list[Attachment]
    attachments: Attachments = Field(default_factory=list)  # type: ignore[assignment]
    inputs: Inputs = Field(default_factory=dict)


class DispositionBody(GiveDisposition):
    """Give the head's disposition (instruction) on a registered request."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "instruction": "Tindak lanjuti; Ka. Tim Dokpim menjadwalkan",
                    "inputs": {
                        "request-letter": "doc://letters/17",
                        "script": "doc://scripts/17",
                        "disposition-sheet": "doc://dispositions/17",
                    },
                }
            ]
        },
    )

    instruction: FilledNote
    inputs: Inputs = Field(default_factory=dict)
