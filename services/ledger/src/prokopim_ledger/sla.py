"""The SLA fold: a case's step-completing events -> step attempts measured in working time.

A case enters a step when the event completing the step before it names it as `next_step`,
or when a review rejection sends the case back to it (rework). The attempt ends with the
next event completing that step. Each attempt is measured on its own; a step's total is the
sum of its attempts. Step 1 has no earlier event (the letter's arrival is not recorded), so
its clock starts and stops at the registration: it measures 0.

Pure: the same facts, SOPs and calendar always give the same attempts, which is what makes
a rebuilt projection equal the live one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from prokopim_sop import Sop, SopCatalog

from .calendar import WorkingCalendar

AT_RISK_SHARE = 0.75


class Status(StrEnum):
    ON_TIME = "on-time"
    AT_RISK = "at-risk"
    BREACHED = "breached"


def status_of(used: float, standard: float) -> Status:
    """Classify working time used against a standard: breached above 100 %, at risk from 75 %."""
    if used > standard:
        return Status.BREACHED
    if used >= AT_RISK_SHARE * standard:
        return Status.AT_RISK
    return Status.ON_TIME


@dataclass(frozen=True, slots=True)
class Fact:
    """What the fold needs of one step-completing event (an audit row with `completes`)."""

    position: int
    case_id: UUID
    type: str
    occurred_at: datetime
    sop_id: str
    sop_version: str
    step: int
    next_step: int | None
    decision: str | None = None
    reason: str | None = None
    actor_id: str = ""
    # (name, role) of each staff member a StaffAssigned event assigned
    assignments: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Attempt:
    """One time a case went through a step; `completed_*` are None while it runs."""

    case_id: UUID
    sop_id: str
    sop_version: str
    step: int
    attempt: int
    role: str
    assignees: tuple[str, ...]
    entered_at: datetime
    entered_position: int
    standard_seconds: float
    at_risk_at: datetime
    breach_at: datetime
    completed_at: datetime | None = None
    completed_position: int | None = None
    completed_by: str | None = None
    outcome: str | None = None  # completed | approved | rejected
    reason: str | None = None
    working_seconds: float | None = None
    status: Status | None = None

    @property
    def open(self) -> bool:
        return self.completed_at is None

    def used_at(self, now: datetime, calendar: WorkingCalendar) -> float:
        """Working seconds used so far (all of them once completed)."""
        if self.working_seconds is not None:
            return self.working_seconds
        return calendar.working_seconds(self.entered_at, now)


@dataclass(frozen=True, slots=True)
class CaseSla:
    """Every attempt of one case, in the order the case entered them, and its totals."""

    case_id: UUID
    sop_id: str
    sop_version: str
    opened_at: datetime
    closed_at: datetime | None
    attempts: tuple[Attempt, ...]
    standard_seconds: float  # the SOP's total standard (minutes plus working days)

    @property
    def working_seconds(self) -> float:
        """Working time of the completed attempts (the whole case once it is closed)."""
        return sum(a.working_seconds or 0.0 for a in self.attempts)

    @property
    def rework_loops(self) -> int:
        """Times a reviewer sent the case back (each rejection starts one loop)."""
        return sum(1 for a in self.attempts if a.outcome == "rejected")

    @property
    def status(self) -> Status:
        return status_of(self.working_seconds, self.standard_seconds)


def standard_seconds(sop: Sop, step: int, calendar: WorkingCalendar) -> float:
    """Return a step's standard time in working seconds (a day is one office day)."""
    standard = sop.step(step).standard
    if standard.minutes is not None:
        return standard.minutes * 60.0
    return (standard.working_days or 0) * calendar.day_seconds


def sop_standard_seconds(sop: Sop, calendar: WorkingCalendar) -> float:
    """Return the SOP's total standard: its minute standards plus its working days."""
    return sop.standard_minutes_total * 60.0 + sop.standard_working_days_total * (
        calendar.day_seconds
    )


def fold_case(facts: Iterable[Fact], catalog: SopCatalog, calendar: WorkingCalendar) -> CaseSla:
    """Measure every step attempt of one case from its step-completing events."""
    ordered = sorted(facts, key=lambda f: f.position)
    if not ordered:
        raise ValueError("a case needs at least one fact")
    first = ordered[0]
    sop = catalog.get(first.sop_id, first.sop_version)
    running: dict[int, Attempt] = {}
    done: list[Attempt] = []
    counts: dict[int, int] = {}
    staff: tuple[tuple[str, str], ...] = ()
    closed_at: datetime | None = None
    for fact in ordered:
        if fact.assignments:
            staff = fact.assignments
        attempt = running.pop(fact.step, None)
        if attempt is None:  # step 1, or a step completed without being entered
            attempt = _enter(fact, fact.step, sop, calendar, counts, staff)
        done.append(_complete(attempt, fact, calendar, staff))
        if fact.next_step is None:
            closed_at = fact.occurred_at
        else:
            running[fact.next_step] = _enter(fact, fact.next_step, sop, calendar, counts, staff)
    attempts = sorted([*done, *running.values()], key=lambda a: (a.entered_position, a.step))
    return CaseSla(
        case_id=first.case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        opened_at=first.occurred_at,
        closed_at=closed_at if not running else None,
        attempts=tuple(attempts),
        standard_seconds=sop_standard_seconds(sop, calendar),
    )


def _enter(
    fact: Fact,
    step: int,
    sop: Sop,
    calendar: WorkingCalendar,
    counts: dict[int, int],
    staff: tuple[tuple[str, str], ...],
) -> Attempt:
    counts[step] = number = counts.get(step, 0) + 1
    role = sop.step(step).role
    standard = standard_seconds(sop, step, calendar)
    return Attempt(
        case_id=fact.case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        step=step,
        attempt=number,
        role=role,
        assignees=_assignees(staff, role),
        entered_at=fact.occurred_at,
        entered_position=fact.position,
        standard_seconds=standard,
        at_risk_at=calendar.after_working(fact.occurred_at, AT_RISK_SHARE * standard),
        breach_at=calendar.after_working(fact.occurred_at, standard),
    )


def _complete(
    attempt: Attempt, fact: Fact, calendar: WorkingCalendar, staff: tuple[tuple[str, str], ...]
) -> Attempt:
    used = calendar.working_seconds(attempt.entered_at, fact.occurred_at)
    return Attempt(
        case_id=attempt.case_id,
        sop_id=attempt.sop_id,
        sop_version=attempt.sop_version,
        step=attempt.step,
        attempt=attempt.attempt,
        role=attempt.role,
        # staff assigned while the step ran answer for it too
        assignees=attempt.assignees or _assignees(staff, attempt.role),
        entered_at=attempt.entered_at,
        entered_position=attempt.entered_position,
        standard_seconds=attempt.standard_seconds,
        at_risk_at=attempt.at_risk_at,
        breach_at=attempt.breach_at,
        completed_at=fact.occurred_at,
        completed_position=fact.position,
        completed_by=fact.actor_id,
        outcome=fact.decision or "completed",
        reason=fact.reason if fact.decision == "rejected" else None,
        working_seconds=used,
        status=status_of(used, attempt.standard_seconds),
    )


def _assignees(staff: tuple[tuple[str, str], ...], role: str) -> tuple[str, ...]:
    return tuple(name for name, staff_role in staff if staff_role == role)
