"""Settings of the ledger process, read from the environment."""

from __future__ import annotations

from pathlib import Path

from prokopim_kit.office_calendar import CalendarSettings
from prokopim_kit.runtime import ServiceSettings
from pydantic import Field

from .integrity import IntegritySettings


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
