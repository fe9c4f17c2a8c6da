"""Working time: office hours on working days in Asia/Jakarta, holidays excluded.

SOP standard times are working time (DOMAIN.md "Time"): weekends, Indonesian public
holidays and collective-leave days (*cuti bersama*) do not count, nor do the hours outside
the office day. "1 day" in a standard is one working day, i.e. one office day's length.

Pure: no clock, no I/O. The `holidays` package only computes dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

JAKARTA = "Asia/Jakarta"
_DAY = timedelta(days=1)
# Walking further than this many days to find working time means the calendar has none
# (e.g. every weekday configured as a holiday): refuse rather than loop forever.
_MAX_DAYS = 3660


@lru_cache(maxsize=256)
def indonesian_holidays(year: int, *, collective_leave: bool) -> frozenset[date]:
    """Return Indonesia's public holidays of `year`, plus joint leave days if asked."""
    categories = ("public", "government") if collective_leave else ("public",)
    return frozenset(holidays.country_holidays("ID", years=year, categories=categories))


@dataclass(frozen=True)
class WorkingCalendar:
    """When the office works: its hours, its weekdays, and the days it does not."""

    timezone: str = JAKARTA
    opens: time = time(8, 0)
    closes: time = time(16, 0)
    working_days: frozenset[int] = frozenset(range(5))  # Monday=0 .. Friday=4
    collective_leave: frozenset[date] = frozenset()
    # Joint leave days the `holidays` package knows (its "government" category).
    package_collective_leave: bool = True
    public_holidays: bool = True
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError(f"office closes ({self.closes}) before it opens ({self.opens})")
        if not self.working_days or not self.working_days <= set(range(7)):
            raise ValueError("working_days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def day_seconds(self) -> float:
        """Length of one office day in seconds: what a standard of "1 day" means."""
        return _seconds(self.opens, self.closes)

    def is_working_day(self, day: date) -> bool:
        """Tell whether the office works on `day` (a local date)."""
        if day.weekday() not in self.working_days or day in self.collective_leave:
            return False
        if not self.public_holidays:
            return True
        return day not in indonesian_holidays(
            day.year, collective_leave=self.package_collective_leave
        )

    def local(self, instant: datetime) -> datetime:
        """Return `instant` in the office's time zone (naive datetimes are refused)."""
        if instant.tzinfo is None:
            raise ValueError(f"{instant} has no time zone")
        return instant.astimezone(self._zone)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Return the working seconds between two instants (0 if `end` is not after)."""
        a, b = self.local(start), self.local(end)
        if b <= a:
            return 0.0
        if a.date() == b.date():
            return self._within_day(a.date(), a.time(), b.time())
        total = self._within_day(a.date(), a.time(), time.max) + self._within_day(
            b.date(), time.min, b.time()
        )
        day = a.date() + _DAY
        full = self.day_seconds
        while day < b.date():
            if self.is_working_day(day):
                total += full
            day += _DAY
        return total

    def after_working(self, start: datetime, seconds: float) -> datetime:
        """Return the instant when `seconds` of working time have elapsed after `start`."""
        if seconds <= 0:
            return start
        a = self.local(start)
        day, moment, left = a.date(), a.time(), float(seconds)
        for _ in range(_MAX_DAYS):
            if self.is_working_day(day):
                begin = max(moment, self.opens)
                available = _seconds(begin, self.closes) if begin < self.closes else 0.0
                if left <= available:
                    local = datetime.combine(day, begin, self._zone) + timedelta(seconds=left)
                    return local.astimezone(start.tzinfo)
                left -= available
            day, moment = day + _DAY, time.min
        raise ValueError(f"no working time within {_MAX_DAYS} days of {start}")

    def _within_day(self, day: date, start: time, end: time) -> float:
        if not self.is_working_day(day):
            return 0.0
        begin, finish = max(start, self.opens), min(end, self.closes)
        return _seconds(begin, finish) if finish > begin else 0.0


def _seconds(start: time, end: time) -> float:
    """Seconds from `start` to `end` on one day (time.max counts as midnight)."""
    end_s = 86400.0 if end == time.max else end.hour * 3600 + end.minute * 60 + end.second
    if end != time.max:
        end_s += end.microsecond / 1e6
    start_s = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
    return end_s - start_s


def parse_days(text: str) -> frozenset[date]:
    """Parse comma-separated ISO dates ("2025-12-24,2025-12-26") into a set."""
    return frozenset(date.fromisoformat(part.strip()) for part in text.split(",") if part.strip())
