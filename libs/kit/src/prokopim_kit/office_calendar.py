"""The office's working-time calendar as settings, read by every process that measures or
promises SOP time (the ledger's SLA clocks, scheduling's expected dates on the status page).

The variables keep the `LEDGER_` prefix they were introduced with, so an installation that
set them for the ledger gives scheduling the same calendar without a change.
"""

from __future__ import annotations

from datetime import time
from functools import lru_cache

from prokopim_sop.calendar import JAKARTA, WorkingCalendar, parse_days
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CalendarSettings(BaseSettings):
    """The office's working-time calendar (env LEDGER_OFFICE_OPENS, LEDGER_WORKING_DAYS, ...)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    ledger_timezone: str = JAKARTA
    ledger_office_opens: time = Field(default=time(8, 0), description="e.g. 07:30")
    ledger_office_closes: time = Field(default=time(16, 0), description="e.g. 16:00")
    ledger_working_days: str = Field(
        default="0,1,2,3,4", description="weekday numbers, Monday=0 (comma-separated)"
    )
    ledger_collective_leave: str = Field(
        default="", description="extra cuti bersama dates, comma-separated ISO dates"
    )
    ledger_package_collective_leave: bool = Field(
        default=True, description="also skip the joint leave days the holidays package knows"
    )

    def calendar(self) -> WorkingCalendar:
        """Return the working-time calendar these settings describe (one per description:
        scheduling asks on every status page, and the calendar caches its days)."""
        return _calendar(
            self.ledger_timezone,
            self.ledger_office_opens,
            self.ledger_office_closes,
            self.ledger_working_days,
            self.ledger_collective_leave,
            self.ledger_package_collective_leave,
        )


@lru_cache(maxsize=16)
def _calendar(
    timezone: str,
    opens: time,
    closes: time,
    working_days: str,
    collective_leave: str,
    package_collective_leave: bool,
) -> WorkingCalendar:
    return WorkingCalendar(
        timezone=timezone,
        opens=opens,
        closes=closes,
        working_days=frozenset(int(d) for d in working_days.split(",") if d.strip()),
        collective_leave=parse_days(collective_leave),
        package_collective_leave=package_collective_leave,
    )
