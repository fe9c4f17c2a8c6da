"""Working time: office hours, weekends, public holidays and collective leave."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from prokopim_sop.calendar import WorkingCalendar, parse_days

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar()


def at(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=WIB)


def test_a_working_day_counts_only_office_hours() -> None:
    # Wednesday 2025-05-07: 07:00-17:00 spans the whole 08:00-16:00 office day
    assert CAL.working_seconds(at("2025-05-07", "07:00"), at("2025-05-07", "17:00")) == 8 * 3600
    assert CAL.working_seconds(at("2025-05-07", "09:00"), at("2025-05-07", "09:24")) == 24 * 60
    assert CAL.working_seconds(at("2025-05-07", "16:30"), at("2025-05-07", "20:00")) == 0
    assert CAL.day_seconds == 8 * 3600


def test_utc_instants_are_read_in_jakarta_time() -> None:
    utc_start = datetime(2025, 5, 7, 2, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 WIB
    assert CAL.working_seconds(utc_start, at("2025-05-07", "10:00")) == 3600


def test_weekend_public_holiday_and_joint_leave_do_not_count() -> None:
    # Fri 9 May 2025 15:55 -> Wed 14 May 08:10: Sat, Sun, Vesak (Mon 12, public holiday)
    # and Tue 13 (Vesak joint leave, cuti bersama) are off: 5 + 10 minutes remain.
    start, end = at("2025-05-09", "15:55"), at("2025-05-14", "08:10")
    assert CAL.working_seconds(start, end) == 15 * 60
    without_joint_leave = WorkingCalendar(package_collective_leave=False)
    assert without_joint_leave.working_seconds(start, end) == 15 * 60 + 8 * 3600


def test_configured_collective_leave_and_hours() -> None:
    cal = WorkingCalendar(
        opens=time(7, 30),
        closes=time(16, 0),
        collective_leave=parse_days("2025-05-07, 2025-05-08"),
    )
    assert cal.day_seconds == 8.5 * 3600
    assert not cal.is_working_day(date(2025, 5, 7))
    assert cal.working_seconds(at("2025-05-06", "15:00"), at("2025-05-09", "08:00")) == 1.5 * 3600


def test_after_working_is_the_inverse_of_working_seconds() -> None:
    start = at("2025-05-09", "15:55")
    assert CAL.after_working(start, 15 * 60) == at("2025-05-14", "08:10")
    assert CAL.after_working(start, 5 * 60) == at("2025-05-09", "16:00")
    assert CAL.after_working(at("2025-05-07", "06:00"), 60) == at("2025-05-07", "08:01")
    # one working day from mid-morning Friday ends mid-morning on the next working day
    assert CAL.after_working(at("2025-05-09", "10:00"), CAL.day_seconds) == at(
        "2025-05-14", "10:00"
    )
    for seconds in (1.0, 600.0, 28_800.0, 100_000.0):
        end = CAL.after_working(start, seconds)
        assert CAL.working_seconds(start, end) == pytest.approx(seconds)


def test_a_calendar_must_make_sense() -> None:
    with pytest.raises(ValueError, match="closes"):
        WorkingCalendar(opens=time(16), closes=time(8))
    with pytest.raises(ValueError, match="weekday"):
        WorkingCalendar(working_days=frozenset({7}))
    with pytest.raises(ValueError, match="time zone"):
        CAL.working_seconds(datetime(2025, 5, 7, 9), at("2025-05-07", "10:00"))


def test_the_fixed_offset_shortcut_agrees_with_zone_arithmetic() -> None:
    general = WorkingCalendar()
    object.__setattr__(general, "_offset", None)  # force the general path
    rng = random.Random(4)
    base = at("2025-03-20", "00:00")
    for _ in range(500):
        start = base + timedelta(minutes=rng.randint(0, 60 * 24 * 40))
        end = start + timedelta(seconds=rng.randint(0, 3600 * 24 * 9))
        assert CAL.working_seconds(start, end) == pytest.approx(
            general.working_seconds(start, end), abs=1e-6
        )


@pytest.mark.parametrize("path", ["fixed offset", "zone arithmetic"])
def test_instants_a_few_microseconds_apart_are_measured_exactly(path: str) -> None:
    """The end-to-end flows complete steps milliseconds apart: their working time is as
    exact as the instants (whole microseconds), as the SQL fold measures it (seconds since
    1970 as a float would be off by up to a quarter of a microsecond)."""
    calendar = WorkingCalendar()
    if path == "zone arithmetic":
        object.__setattr__(calendar, "_offset", None)
    start = at("2026-12-02", "10:15:42.123456")
    for micros in (1, 7, 26_811, 999_999, 3_600_000_001):
        end = start + timedelta(microseconds=micros)
        assert calendar.working_seconds(start, end) == pytest.approx(micros / 1e6, abs=1e-9)
    next_day = at("2026-12-03", "08:00:00.000001")
    assert calendar.working_seconds(start, next_day) == pytest.approx(
        16 * 3600 - (10 * 3600 + 15 * 60 + 42.123456) + 0.000001, abs=1e-9
    )


def test_zones_with_clock_changes_count_wall_clock_office_hours() -> None:
    berlin = WorkingCalendar(timezone="Europe/Berlin", public_holidays=False)
    zone = ZoneInfo("Europe/Berlin")
    # Friday 28 March 2025 15:00 -> Monday 31 March 09:00 across the switch to summer time
    start = datetime(2025, 3, 28, 15, 0, tzinfo=zone)
    assert berlin.working_seconds(start, datetime(2025, 3, 31, 9, 0, tzinfo=zone)) == 2 * 3600
