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
from typing import NamedTuple
from uuid import UUID

from prokopim_sop import Sop, SopCatalog, due
from prokopim_sop.calendar import WorkingCalendar

# The SLA thresholds, as shares of a step's standard working time: the one definition the
# Python fold, the SQL fold (sla_sql.py), the live alerts and the metrics all read.
AT_RISK_SHARE = 0.75  # at risk from 75 % of the standard
BREACH_SHARE = 1.0  # breached beyond it
CANCELLED = "cancelled"  # the decision of a case-cancelled fact: it stops the running clocks


class Status(StrEnum):
    ON_TIME = "on-time"
    AT_RISK = "at-risk"
    BREACHED = "breached"


def status_of(used: float, standard: float) -> Status:
    """Classify working time used against a standard: breached above 100 %, at risk from 75 %."""
    if used > BREACH_SHARE * standard:
        return Status.BREACHED
    if used >= AT_RISK_SHARE * standard:
        return Status.AT_RISK
    return Status.ON_TIME


class Fact(NamedTuple):
    """What the fold needs of one step-completing event (an audit row with `completes`)."""

    position: int
    case_id: UUID
    type: str
    occurred_at: datetime
    sop_id: str
    sop_version: str
    step: int  # None only for a cancellation, which completes no step of its own
    next_step: int | None
    decision: str | None = None
    reason: str | None = None
    actor_id: str = ""
    # (name, role) of each staff member a StaffAssigned event assigned
    assignments: tuple[tuple[str, str], ...] = ()


class Attempt(NamedTuple):
    """One time a case went through a step; `completed_*` are None while it runs.

    The deadlines (`at_risk_at`, `breach_at`) are those of a running attempt: what the live
    SLA check waits for. A completed attempt has its measured time and status instead.
    Fields are in the order of the ledger_step_attempts columns.
    """

    case_id: UUID
    step: int
    attempt: int
    sop_id: str
    sop_version: str
    role: str
    assignees: tuple[str, ...]
    entered_at: datetime
    entered_position: int
    standard_seconds: float
    at_risk_at: datetime | None = None
    breach_at: datetime | None = None
    completed_at: datetime | None = None
    completed_position: int | None = None
    completed_by: str | None = None
    outcome: str | None = None  # completed | approved | rejected | cancelled
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
    return due.standard_seconds(sop.step(step), calendar)


def sop_standard_seconds(sop: Sop, calendar: WorkingCalendar) -> float:
    """Return the SOP's total standard: its minute standards plus its working days."""
    return sop.standard_minutes_total * 60.0 + sop.standard_working_days_total * (
        calendar.day_seconds
    )


def fold_case(facts: Iterable[Fact], catalog: SopCatalog, calendar: WorkingCalendar) -> CaseSla:
    """Measure every step attempt of one case from its step-completing events."""
    ordered = sorted(facts, key=_position)
    if not ordered:
        raise ValueError("a case needs at least one fact")
    first = ordered[0]
    sop = catalog.get(first.sop_id, first.sop_version)
    plan = _plan(sop, calendar)
    case_id, sop_id, version = first.case_id, sop.id, sop.version
    running: dict[int, tuple[datetime, int, int]] = {}  # step -> (entered, position, number)
    counts: dict[int, int] = {}
    attempts: list[Attempt] = []
    staff: tuple[tuple[str, str], ...] = ()
    closed_at: datetime | None = None
    for fact in ordered:
        step, at = fact.step, fact.occurred_at
        if fact.decision == CANCELLED:  # every running attempt ends here; nothing else
            for running_step, opened in running.items():
                role, standard = plan[running_step]
                used = calendar.working_seconds(opened[0], at)
                attempts.append(
                    Attempt(
                        case_id,
                        running_step,
                        opened[2],
                        sop_id,
                        version,
                        role,
                        _assignees(staff, role),
                        opened[0],
                        opened[1],
                        standard,
                        None,
                        None,
                        at,
                        fact.position,
                        fact.actor_id,
                        CANCELLED,
                        fact.reason,
                        used,
                        status_of(used, standard),
                    )
                )
            if running:
                closed_at = at
            running.clear()
            continue
        if fact.assignments:
            staff = fact.assignments
        entry = running.pop(step, None)
        if entry is None:  # step 1, or a step completed without being entered
            counts[step] = counts.get(step, 0) + 1
            entry = (at, fact.position, counts[step])
        role, standard = plan[step]
        used = calendar.working_seconds(entry[0], at)
        attempts.append(
            Attempt(
                case_id,
                step,
                entry[2],
                sop_id,
                version,
                role,
                _assignees(staff, role),
                entry[0],
                entry[1],
                standard,
                None,
                None,
                at,
                fact.position,
                fact.actor_id,
                fact.decision or "completed",
                fact.reason if fact.decision == "rejected" else None,
                used,
                status_of(used, standard),
            )
        )
        if fact.next_step is None:
            closed_at = at
        else:
            counts[fact.next_step] = number = counts.get(fact.next_step, 0) + 1
            running[fact.next_step] = (at, fact.position, number)
    for step, (entered_at, position, number) in running.items():
        role, standard = plan[step]
        attempts.append(
            Attempt(
                case_id,
                step,
                number,
                sop_id,
                version,
                role,
                _assignees(staff, role),
                entered_at,
                position,
                standard,
                calendar.after_working(entered_at, AT_RISK_SHARE * standard),
                calendar.after_working(entered_at, BREACH_SHARE * standard),
            )
        )
    attempts.sort(key=_entered)
    return CaseSla(
        case_id=case_id,
        sop_id=sop_id,
        sop_version=version,
        opened_at=first.occurred_at,
        closed_at=closed_at if not running else None,
        attempts=tuple(attempts),
        standard_seconds=plan[0][1],
    )


def _position(fact: Fact) -> int:
    return fact.position


def _entered(attempt: Attempt) -> tuple[int, int]:
    return attempt.entered_position, attempt.step


_plans: dict[tuple[int, int], tuple[Sop, WorkingCalendar, dict[int, tuple[str, float]]]] = {}


def _plan(sop: Sop, calendar: WorkingCalendar) -> dict[int, tuple[str, float]]:
    """Each step's role and standard seconds; key 0 holds the SOP's total standard.

    Cached by identity: hashing a pydantic SOP model per case cost more than the fold.
    The cached entry keeps both objects alive, so their ids cannot be reused meanwhile.
    """
    cached = _plans.get((id(sop), id(calendar)))
    if cached is not None:
        return cached[2]
    plan = {s.number: (s.role, standard_seconds(sop, s.number, calendar)) for s in sop.steps}
    plan[0] = ("", sop_standard_seconds(sop, calendar))
    if len(_plans) > 256:
        _plans.clear()
    _plans[(id(sop), id(calendar))] = (sop, calendar, plan)
    return plan


def _assignees(staff: tuple[tuple[str, str], ...], role: str) -> tuple[str, ...]:
    if not staff:
        return ()
    return tuple(name for name, staff_role in staff if staff_role == role)
