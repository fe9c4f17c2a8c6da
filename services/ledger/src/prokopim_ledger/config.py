"""Settings of the ledger process, read from the environment."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from prokopim_kit.runtime import ServiceSettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .calendar import JAKARTA, WorkingCalendar, parse_days
from .integrity import IntegritySettings


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
        """Return the working-time calendar these settings describe."""
        days = frozenset(int(d) for d in self.ledger_working_days.split(",") if d.strip())
        return WorkingCalendar(
            timezone=self.ledger_timezone,
            opens=self.ledger_office_opens,
            closes=self.ledger_office_closes,
            working_days=days,
            collective_leave=parse_days(self.ledger_collective_leave),
            package_collective_leave=self.ledger_package_collective_leave,
        )


class Settings(ServiceSettings, CalendarSettings):
    """Backbone and auth settings, the calendar, where to listen, and loop periods."""

    port: int = Field(default=8006, ge=1, le=65535, description="PORT (ledger: 8006)")
    ledger_alert_interval: float = Field(default=1.0, gt=0, description="SLA check period (s)")
    ledger_seal_interval: float = Field(
        default=5.0, gt=0, description="LEDGER_SEAL_INTERVAL: sealing period (s)"
    )
    ledger_seal_range: int = Field(default=1000, ge=1, description="positions per seal")
    ledger_seal_max_age_seconds: float = Field(
        default=60.0,
        ge=0,
        description=(
            "LEDGER_SEAL_MAX_AGE_SECONDS: once the newest seal is this old, whatever is settled"
            " beyond it is sealed too, however few events: the longest an event stays unsealed"
            " (plus LEDGER_SEAL_INTERVAL)"
        ),
    )
    ledger_seal_export_file: Path | None = Field(
        default=None,
        description=(
            "LEDGER_SEAL_EXPORT_FILE: an append-only file each seal's head is written to, kept"
            " (and backed up) where database writers cannot reach; verify compares it"
        ),
    )
    ledger_verify_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="LEDGER_VERIFY_INTERVAL_SECONDS: how often the ledger verifies the store",
    )

    def integrity(self) -> IntegritySettings:
        """Return what the sealing and verifying loops need."""
        return IntegritySettings(
            key=self.chain_key(),
            keys=self.keyring(),
            seal_interval=self.ledger_seal_interval,
            seal_range=self.ledger_seal_range,
            seal_max_age=self.ledger_seal_max_age_seconds,
            export=self.ledger_seal_export_file,
            verify_interval=self.ledger_verify_interval_seconds,
        )
