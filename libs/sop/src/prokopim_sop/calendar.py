"""Working time: office hours on working days in Asia/Jakarta, holidays excluded.

SOP standard times are working time (DOMAIN.md "Time"): weekends, Indonesian public
holidays and collective-leave days (*cuti bersama*) do not count, nor do the hours outside
the office day. "1 day" in a standard is one working day, i.e. one office day's length.

Pure: no clock, no I/O. The `holidays` package only computes dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

JAKARTA = "Asia/Jakarta"
_DAY = timedelta(days=1)
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY_MICROS = 86_400_000_000
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
    _opens_s: float = field(init=False, repr=False, compare=False)
    _closes_s: float = field(init=False, repr=False, compare=False)
    _days: dict[date, tuple[float, float] | None] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _epoch_days: dict[int, tuple[float, float] | tuple[()]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _offset: float | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError(f"office closes ({self.closes}) before it opens ({self.opens})")
        if not self.working_days or not self.working_days <= set(range(7)):
            raise ValueError("working_days must be weekday numbers 0 (Monday) to 6 (Sunday)")
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))
        object.__setattr__(self, "_opens_s", _seconds(time.min, self.opens))
        object.__setattr__(self, "_closes_s", _seconds(time.min, self.closes))
        object.__setattr__(self, "_offset", _fixed_offset(self._zone))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def day_seconds(self) -> float:
        """Length of one office day in seconds: what a standard of "1 day" means."""
        return _seconds(self.opens, self.closes)

    def is_working_day(self, day: date) -> bool:
        """Tell whether the office works on `day` (a local date)."""
        return self._hours(day) is not None

    def _working_day(self, day: date) -> bool:
        if day.weekday() not in self.working_days or day in self.collective_leave:
            return False
        if not self.public_holidays:
            return True
        return day not in indonesian_holidays(
            day.year, collective_leave=self.package_collective_leave
        )

    def _hours(self, day: date) -> tuple[float, float] | None:
        """Office hours of `day` as seconds after local midnight, None on a day off (cached:
        the SLA fold asks this for every step attempt it measures)."""
        try:
            return self._days[day]
        except KeyError:
            hours = (self._opens_s, self._closes_s) if self._working_day(day) else None
            if len(self._days) > 20_000:
                self._days.clear()
            self._days[day] = hours
            return hours

    def local(self, instant: datetime) -> datetime:
        """Return `instant` in the office's time zone (naive datetimes are refused)."""
        if instant.tzinfo is None:
            raise ValueError(f"{instant} has no time zone")
        return instant.astimezone(self._zone)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Return the working seconds between two instants (0 if `end` is not after)."""
        if self._offset is not None:
            return self._working_seconds_fixed(start, end, self._offset)
        a, b = self.local(start), self.local(end)
        if b <= a:
            return 0.0
        first, last = a.date(), b.date()
        if first == last:
            return self._within_day(first, _of_day(a), _of_day(b))
        total = self._within_day(first, _of_day(a), 86400.0)
        total += self._within_day(last, 0.0, _of_day(b))
        day = first + _DAY
        while day < last:
            hours = self._hours(day)
            if hours is not None:
                total += hours[1] - hours[0]
            day += _DAY
        return total

    def _working_seconds_fixed(self, start: datetime, end: datetime, offset: float) -> float:
        # The same as the general path in plain numbers, for zones without clock changes
        # (Asia/Jakarta has kept UTC+7 since 1964). Instants are whole microseconds, as
        # datetimes and PostgreSQL keep them: a float of seconds since 1970 would be off by
        # up to a quarter of a microsecond, and the SQL fold is exact to the microsecond.
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError(f"{start} or {end} has no time zone")
        shift = round(offset * 1_000_000)
        first, a_micros = divmod((start - _EPOCH) // _MICROSECOND + shift, _DAY_MICROS)
        last, b_micros = divmod((end - _EPOCH) // _MICROSECOND + shift, _DAY_MICROS)
        if (last, b_micros) <= (first, a_micros):
            return 0.0
        a, b = a_micros / 1_000_000, b_micros / 1_000_000  # seconds into their local days
        days = self._epoch_days
        hours = days.get(first) or self._epoch_hours(first)
        if first == last:
            if not hours:
                return 0.0
            begin, finish = max(a, hours[0]), min(b, hours[1])
            return finish - begin if finish > begin else 0.0
        total = 0.0
        if hours:
            begin = max(a, hours[0])
            total += hours[1] - begin if hours[1] > begin else 0.0
        for day in range(first + 1, last):
            full = days.get(day) or self._epoch_hours(day)
            if full:
                total += full[1] - full[0]
        hours = days.get(last) or self._epoch_hours(last)
        if hours:
            finish = min(b, hours[1])
            total += finish - hours[0] if finish > hours[0] else 0.0
        return total

    def _epoch_hours(self, day: int) -> tuple[float, float] | tuple[()]:
        """Office hours of the `day`-th local day since 1970-01-01; () on a day off."""
        hours = self._hours(_EPOCH_DAY + timedelta(days=day)) or ()
        self._epoch_days[day] = hours
        return hours

    def after_working(self, start: datetime, seconds: float) -> datetime:
        """Return the instant when `seconds` of working time have elapsed after `start`."""
        if seconds <= 0:
            return start
        a = self.local(start)
        day, moment, left = a.date(), _of_day(a), float(seconds)
        for _ in range(_MAX_DAYS):
            hours = self._hours(day)
            if hours is not None:
                begin = max(moment, hours[0])
                available = max(0.0, hours[1] - begin)
                if left <= available:
                    midnight = datetime.combine(day, time.min, self._zone)
                    return (midnight + timedelta(seconds=begin + left)).astimezone(start.tzinfo)
                left -= available
            day, moment = day + _DAY, 0.0
        raise ValueError(f"no working time within {_MAX_DAYS} days of {start}")

    def _within_day(self, day: date, start: float, end: float) -> float:
        hours = self._hours(day)
        if hours is None:
            return 0.0
        begin, finish = max(start, hours[0]), min(end, hours[1])
        return finish - begin if finish > begin else 0.0


def _fixed_offset(zone: ZoneInfo) -> float | None:
    """The zone's UTC offset in seconds if it never changed from 1970 to 2100, else None."""
    offsets = {
        datetime(year, month, 1, tzinfo=zone).utcoffset()
        for year in range(1970, 2101)
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return offset.total_seconds() if offset is not None else None


def _of_day(moment: datetime) -> float:
    """Seconds after local midnight."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1_000_000


def _seconds(start: time, end: time) -> float:
    """Seconds from `start` to `end` on one day."""
    return _of_day(datetime.combine(date.min, end)) - _of_day(datetime.combine(date.min, start))


def parse_days(text: str) -> frozenset[date]:
    """Parse comma-separated ISO dates ("2025-12-24,2025-12-26") into a set."""
    return frozenset(date.fromisoformat(part.strip()) for part in text.split(",") if part.strip())
