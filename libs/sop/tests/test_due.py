"""Due dates of the steps still to come: standard times end to end in working time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar
from prokopim_sop.due import due_dates

pytestmark = pytest.mark.unit

WIB = timezone(timedelta(hours=7))
CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
OFFICE = WorkingCalendar()


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


def test_bandung_from_step_3_on_a_friday_afternoon_with_a_saturday_evening_recording() -> None:
    dues = due_dates(BANDUNG, 3, at(11, 15, 55), OFFICE, activity_starts=at(19, 19))

    assert [(d.step.number, d.by) for d in dues] == [
        (3, at(14, 8, 5)),  # 5 minutes on Friday, 5 on Monday morning
        (4, at(15, 8, 5)),  # one working day: one office day's length
        (5, at(15, 8, 15)),
        (6, at(19, 20)),  # the recording is made at the activity, a Saturday evening
        (7, at(21, 9)),  # editing waits for Monday's office hours
        (8, at(21, 9, 30)),
        (9, at(21, 9, 40)),
        (10, at(21, 9, 50)),
    ]


def test_a_step_due_after_the_activity_started_is_due_in_working_time() -> None:
    """A coverage whose case reaches it late is due its standard after it opened."""
    dues = due_dates(TANGERANG, 4, at(8, 10), OFFICE, activity_starts=at(8, 9))

    assert [(d.step.number, d.by) for d in dues] == [
        (4, at(8, 13)),
        (5, at(8, 13, 30)),
        (6, at(8, 14)),
        (7, at(8, 14, 20)),
    ]


def test_public_holidays_do_not_count() -> None:
    """Independence Day (Tuesday 17 August 2027) is no working day."""
    dues = due_dates(BANDUNG, 4, at(16, 10, month=8, year=2027), OFFICE)

    assert dues[0].by == at(18, 10, month=8, year=2027)


def test_the_last_step_has_nothing_after_it() -> None:
    assert [d.step.number for d in due_dates(TANGERANG, 7, at(8, 10), OFFICE)] == [7]
