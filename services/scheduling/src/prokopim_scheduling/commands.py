"""Scheduling's commands: what a user orders at a scheduling step (also the HTTP bodies)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# The offices work on Western Indonesia Time, which has no daylight saving: a fixed offset
# is exact. A schedule given without an offset is read as office time, not as UTC.
WIB = timezone(timedelta(hours=7), "WIB")

NonBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Channel = Literal["email", "phone", "letter"]


def _office_time(value: datetime) -> datetime:
    return value.replace(tzinfo=WIB) if value.tzinfo is None else value


OfficeTime = Annotated[datetime, AfterValidator(_office_time)]


INPUTS = "kelengkapan id -> reference or note, for every required input of the step"


class Command(BaseModel):
    """Base of scheduling's commands: immutable, unknown fields refused (a typo is a 422)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CoordinateSchedule(Command):
    """Fix when and where the recording (or coverage) takes place."""

    scheduled_at: OfficeTime = Field(description="when; without an offset, read as WIB (+07:00)")
    location: NonBlank
    notes: str | None = None
    inputs: dict[str, str] = Field(default={}, description=INPUTS)


class NotifyRequester(Command):
    """Tell the requester the coordinated schedule."""

    channel: Channel
    message: str | None = Field(
        default=None, description="what the requester is told; composed from the schedule if empty"
    )
    inputs: dict[str, str] = Field(default={}, description=INPUTS)


class StaffMember(Command):
    """One person assigned, in a role, optionally to a team."""

    name: NonBlank
    role: NonBlank
    team: str | None = None


class AssignStaff(Command):
    """Assign the staff (or split the coverage teams) who carry out the work."""

    assignments: list[StaffMember] = Field(min_length=1)
    inputs: dict[str, str] = Field(default={}, description=INPUTS)
