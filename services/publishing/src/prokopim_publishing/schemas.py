"""Request and response bodies of publishing's HTTP API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal
from uuid import UUID

from prokopim_events.contracts import (
    CaseFile,
    Draft,
    NewsPublished,
    PublicationOrdered,
    RecordingArchived,
    RecordingHandedOver,
)
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from .domain import CaseState
from .registry import Outlet

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Inputs = Annotated[
    dict[str, str],
    Field(description="for each required input (kelengkapan) id of the step: a reference"),
]


class HandOverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: Inputs


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: Inputs
    title: str | None = Field(default=None, description="defaults to the activity's name")
    body: str | None = Field(default=None, description="defaults to the draft's notes")


class OutletRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    email: EmailStr


class OutletView(BaseModel):
    outlet_id: UUID
    name: str
    email: str
    active: bool

    @classmethod
    def of(cls, outlet: Outlet) -> OutletView:
        return cls(
            outlet_id=outlet.outlet_id, name=outlet.name, email=outlet.email, active=outlet.active
        )


class SopRef(BaseModel):
    id: str
    version: str


Awaiting = Literal["hand-over", "archive", "publish"]


class DeliveryView(BaseModel):
    """One effect of the publication order: the website post or one outlet's mail."""

    target: str = Field(description="`website` or `outlet:<outlet id>`")
    state: Literal["sending", "sent", "retrying", "failed"]
    attempts: int
    last_error: str | None
    result: str | None = Field(description="the website's URL, or the mail's Message-ID")


class CaseView(BaseModel):
    """Publishing's view of a case: what it waits for and what was done."""

    case_id: UUID
    sop: SopRef
    awaiting_step: int | None
    awaiting: Awaiting | None = Field(description="the action the case waits for, if any")
    case: CaseFile
    draft: Draft | None
    handover: RecordingHandedOver | None
    archive: RecordingArchived | None
    publication: NewsPublished | None
    order: PublicationOrdered | None = None
    deliveries: list[DeliveryView] = []

    @classmethod
    def of(
        cls, state: CaseState, awaiting_kind: str | None, deliveries: Sequence[Any] = ()
    ) -> CaseView:
        assert state.case_id and state.sop_id and state.sop_version and state.case
        awaiting: Awaiting | None = None
        if awaiting_kind == "hand-over":
            awaiting = "hand-over"
        elif awaiting_kind == "publish":
            awaiting = "publish"
        elif state.handover is not None and state.archive is None:
            awaiting = "archive"
        return cls(
            case_id=state.case_id,
            sop=SopRef(id=state.sop_id, version=state.sop_version),
            awaiting_step=state.awaiting_step,
            awaiting=awaiting,
            case=state.case,
            draft=state.draft,
            handover=state.handover,
            archive=state.archive,
            publication=state.publication,
            order=state.order,
            deliveries=[
                DeliveryView(
                    target=d.target,
                    state=d.state,
                    attempts=d.attempts,
                    last_error=d.last_error,
                    result=d.result,
                )
                for d in deliveries
            ],
        )
