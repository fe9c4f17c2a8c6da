"""What the ledger's routes, consumer and loops share in one process."""

from __future__ import annotations

from dataclasses import dataclass

from prokopim_sop.calendar import WorkingCalendar

from .alerts import Clock
from .metrics import LedgerMetrics


@dataclass(frozen=True)
class LedgerContext:
    calendar: WorkingCalendar
    clock: Clock
    metrics: LedgerMetrics
    alert_interval: float
    seal_interval: float
    seal_range: int
