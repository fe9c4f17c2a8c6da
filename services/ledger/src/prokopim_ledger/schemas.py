"""What the ledger's routes answer, typed (the JSON forms; CSV and HTML follow the same)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class NamedItem(BaseModel):
    """A kelengkapan or output of a step, with the SOP's name for it."""

    id: str
    name: str
    reference: str | None = Field(default=None, description="the reference given (inputs)")


class AuditEntry(BaseModel):
    """One event of the store, as the audit trail shows it."""

    global_position: int
    event_id: UUID
    occurred_at: datetime
    type: str
    stream_id: str
    case_id: UUID | None
    sop_id: str | None
    sop_version: str | None
    step: int | None
    step_name: str | None = Field(description="the step's name in the SOP")
    actor_id: str
    actor_role: str
    actor_name: str | None
    inputs: list[NamedItem] | dict[str, Any] | None = Field(
        description="kelengkapan given, named after the SOP"
    )
    outputs: list[NamedItem] | list[str] | None
    decision: str | None = Field(description="approved or rejected, on review decisions")
    reason: str | None
    assignments: list[dict[str, Any]] | None = Field(description="staff assigned, if any")


class AuditPage(BaseModel):
    """Audit entries in store order, and where the next page is."""

    entries: list[AuditEntry]
    count: int = Field(description="entries on this page")
    next: str | None = Field(description="URL of the next page; null on the last page")


class AttemptView(BaseModel):
    """One attempt at a step: when it was entered and completed, and its working time."""

    case_id: UUID
    sop_id: str
    sop_version: str
    step: int
    attempt: int
    role: str
    assignees: list[str]
    entered_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    outcome: str | None = Field(description="completed, approved or rejected")
    reason: str | None
    running: bool = Field(description="not completed yet: measured up to now")
    standard_seconds: float = Field(description="the step's standard, in working seconds")
    working_seconds: float
    used_share: float | None = Field(description="working time / standard")
    status: str = Field(description="on_time, at_risk or breached")
    at_risk_at: datetime | None
    breach_at: datetime | None


class AttemptPage(BaseModel):
    """Step attempts entered within a period, and where the next page is."""

    attempts: list[AttemptView]
    count: int = Field(description="attempts on this page")
    next: str | None = Field(description="URL of the next page; null on the last page")


class StepTotal(BaseModel):
    step: int
    role: str
    attempts: int
    working_seconds: float
    standard_seconds: float


class CaseSla(BaseModel):
    """A case's working time against its SOP's standards, step by step."""

    case_id: UUID
    sop_id: str
    sop_version: str
    opened_at: datetime
    closed_at: datetime | None
    working_seconds: float | None
    standard_seconds: float | None
    status: str
    rework_loops: int
    breaches: int
    steps: list[StepTotal]
    attempts: list[AttemptView]


class StepReportView(BaseModel):
    step: int
    name: str
    role: str
    standard_seconds: float
    runs: int
    median_seconds: float | None
    p90_seconds: float | None = None
    breaches: int
    at_risk: int
    rework_loops: int
    rejections: int
    rejection_reasons: dict[str, int]
    verdict: str


class MonitoringReportView(BaseModel):
    """The six-monthly monitoring report of one SOP (Mutu Baku review)."""

    sop_id: str
    sop_version: str | None
    sop_title: str
    period_from: date
    period_to: date
    steps: list[StepReportView]
    verdict: str
