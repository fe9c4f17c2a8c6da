"""Scheduling's request bodies: its commands with every field bounded and clean.

Each body is a subclass of its command in `commands.py`, so the service receives the
command it always did; the fields gain their limits (`prokopim_kit.text`) and the OpenAPI
document an example of each.
"""

from __future__ import annotations

from typing import Annotated, Any

from prokopim_kit.text import Bounded, Inputs, Line, Note, SaneYear
from pydantic import ConfigDict, Field

from .commands import (
    AssignStaff,
    Channel,
    CoordinateSchedule,
    NotifyRequester,
    OfficeTime,
    StaffMember,
)

INPUTS_EXAMPLE = {
    "request-letter": "doc://letters/17",
    "script": "doc://scripts/17",
    "disposition-sheet": "doc://dispositions/17",
}


def _config(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(
        frozen=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [example]},
    )


class ScheduleBody(CoordinateSchedule):
    """Fix when and where the recording (or coverage) takes place."""

    model_config = _config(
        {
            "scheduled_at": "2026-05-25T09:00:00+07:00",
            "location": "Balai Kota Bandung",
            "notes": "Ruang tengah, sebelum apel",
            "inputs": INPUTS_EXAMPLE,
        }
    )

    scheduled_at: Annotated[OfficeTime, SaneYear()] = Field(
        description="when; without an offset, read as WIB (+07:00)"
    )
    location: Line
    notes: Note | None = None
    inputs: Inputs = Field(default_factory=dict)


class NotificationBody(NotifyRequester):
    """Tell the requester the coordinated schedule."""

    model_config = _config({"channel": "email", "message": None, "inputs": INPUTS_EXAMPLE})

    channel: Channel
    message: Note | None = Field(
        default=None, description="what the requester is told; composed from the schedule if empty"
    )
    inputs: Inputs = Field(default_factory=dict)


class StaffBody(StaffMember):
    """One person assigned, in a role, optionally to a team."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Line
    role: Line
    team: Line | None = None


class AssignmentsBody(AssignStaff):
    """Assign the staff (or split the coverage teams) who carry out the work."""

    model_config = _config(
        {
            "assignments": [
                {"name": "Budi", "role": "penata-liputan", "team": "video"},
                {"name": "Rina", "role": "penata-liputan", "team": "foto"},
            ],
            "inputs": {"schedule": "doc://schedules/17"},
        }
    )

    # a list of the command's subclass: the domain still receives a list[StaffMember]
    assignments: Annotated[list[StaffBody], Bounded("items"), Field(min_length=1)]  # type: ignore[assignment]
    inputs: Inputs = Field(default_factory=dict)
