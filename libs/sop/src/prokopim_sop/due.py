"""When the steps still to come are due: the SOP's standard times laid end to end.

What a requester is promised ("expected dates"): the awaited step is due its standard time
after it opened, each later step its standard time after the one before it is due, all in
the office's working time, as the ledger's SLA clocks measure them. A recording or coverage
happens at the activity itself, so it is due its standard time (clock time: the activity may
be on a Saturday evening) after the activity starts, when that is later.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from prokopim_sop.calendar import WorkingCalendar
from prokopim_sop.kinds import StepKind
from prokopim_sop.sop import Sop
from prokopim_sop.step import Step

# Steps carried out at the activity, whenever it takes place.
AT_THE_ACTIVITY = frozenset({StepKind.RECORD, StepKind.COVER})


class Due(NamedTuple):
    """A step and when it is due if every step before it takes its standard time."""

    step: Step
    by: datetime


def standard_seconds(step: Step, calendar: WorkingCalendar) -> float:
    """Return a step's standard time in working seconds (a day is one office day)."""
    if step.standard.minutes is not None:
        return step.standard.minutes * 60.0
    return (step.standard.working_days or 0) * calendar.day_seconds


def due_dates(
    sop: Sop,
    awaiting: int,
    since: datetime,
    calendar: WorkingCalendar,
    *,
    activity_starts: datetime | None = None,
) -> list[Due]:
    """Return the awaited step (open since `since`) and every step after it, with due times.

    The path is the approval path (`on_approve`): a rejection is not planned for.
    """
    dues: list[Due] = []
    start: datetime = since
    number: int | None = awaiting
    while number is not None:
        step = sop.step(number)
        seconds = standard_seconds(step, calendar)
        if step.kind in AT_THE_ACTIVITY and activity_starts is not None and activity_starts > start:
            by = activity_starts + timedelta(seconds=seconds)
        else:
            by = calendar.after_working(start, seconds)
        dues.append(Due(step, by))
        start, number = by, step.on_approve
    return dues
