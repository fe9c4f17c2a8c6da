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
from prokopim_kit.pagination import COUNT, NEXT
from prokopim_kit.text import Body, Inputs, Line
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from .domain import CaseState
from .registry import Outlet


def _body(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class HandOverRequest(BaseModel):
    model_config = _body({"inputs": {"computer": "laptop-02"}})
    inputs: Inputs


class PublishRequest(BaseModel):
    model_config = _body(
        {
            "inputs": {"press-release": "doc://news/58", "photos": "doc://photos/58"},
            "title": "Wali Kota Meresmikan Taman Kota",
            "body": "Wali Kota Tangerang meresmikan taman kota baru pada Sabtu pagi.",
        }
    )
    inputs: Inputs
    title: Line | None = Field(default=None, description="defaults to the activity's name")
    body: Body | None = Field(default=None, description="defaults to the draft's notes")


class OutletRequest(BaseModel):
    model_config = _body({"name": "Tangerang Ekspres", "email": "redaksi@tangerangekspres.example"})
    name: Line
    email: Annotated[EmailStr, Field(max_length=320)]


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


class OutletPage(BaseModel):
    """Registered media outlets, by id."""

    outlets: list[OutletView]
    count: int = COUNT
    next: str | None = NEXT


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
