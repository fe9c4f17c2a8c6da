"""The ledger's Prometheus metrics (default registry; names shared in COMMON.md).

The step-duration histogram needs every SOP step's standard as a bucket edge, which
depends on the SOP catalog and the calendar, so the metrics are made on first use rather
than at import, and once per process (the default registry refuses a name twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from prokopim_sop import SopCatalog
from prokopim_sop.calendar import WorkingCalendar
from prometheus_client import Counter, Gauge, Histogram

from .sla import AT_RISK_SHARE, standard_seconds


@dataclass(frozen=True)
class LedgerMetrics:
    step_duration: Histogram
    at_risk: Counter
    breaches: Counter
    open_cases: Gauge
    lag: Gauge


_made: LedgerMetrics | None = None


def bucket_edges(catalog: SopCatalog, calendar: WorkingCalendar) -> list[float]:
    """Every step's standard (and its at-risk share) in working seconds, plus a few more."""
    edges = {60.0, 300.0, 3 * calendar.day_seconds}
    for sop in catalog:
        for step in sop.steps:
            standard = standard_seconds(sop, step.number, calendar)
            edges.update((standard, AT_RISK_SHARE * standard))
    return sorted(edges)


def ledger_metrics(catalog: SopCatalog, calendar: WorkingCalendar) -> LedgerMetrics:
    """Return the process's ledger metrics, registering them on the first call."""
    global _made
    if _made is None:
        _made = LedgerMetrics(
            step_duration=Histogram(
                "prokopim_sla_step_duration_seconds",
                "Working seconds each completed step attempt took",
                ["sop", "step"],
                buckets=bucket_edges(catalog, calendar),
            ),
            at_risk=Counter(
                "prokopim_sla_at_risk_total",
                "Step attempts that used 75 % of their standard time",
                ["sop", "step", "role"],
            ),
            breaches=Counter(
                "prokopim_sla_breaches_total",
                "Step attempts that exceeded their standard time",
                ["sop", "step", "role"],
            ),
            open_cases=Gauge("prokopim_cases_open", "Cases waiting at each step", ["sop", "step"]),
            lag=Gauge(
                "prokopim_ledger_lag_events",
                "Store head position minus the last position the ledger projected",
            ),
        )
    return _made
