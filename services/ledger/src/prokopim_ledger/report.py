"""The monitoring report: how each SOP step ran over a period, against its standard time.

PermenPANRB 35/2012 asks offices to evaluate SOP execution every six months. Per step:
completed runs (attempts), median and 90th percentile of the working time they took, the
standard, breaches, rework loops (attempts after the first) and the reasons reviewers gave
for rejecting. A step "berjalan baik" (runs well) when none of its runs breached its
standard; one breach and it "tidak berjalan baik". Pure: rows in, report out.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from prokopim_sop import Sop

from .sla import Status

RUNS_WELL = "berjalan baik"
RUNS_BADLY = "tidak berjalan baik"
NO_RUNS = "tidak ada data"


@dataclass(frozen=True, slots=True)
class Run:
    """One completed attempt at a step, as the report needs it."""

    step: int
    attempt: int
    working_seconds: float
    status: str
    outcome: str
    reason: str | None = None


@dataclass(frozen=True)
class StepReport:
    step: int
    name: str
    role: str
    standard_seconds: float
    runs: int
    median_seconds: float | None
    p90_seconds: float | None
    breaches: int
    at_risk: int
    rework_loops: int
    rejections: int
    rejection_reasons: dict[str, int]
    verdict: str


@dataclass(frozen=True)
class MonitoringReport:
    sop_id: str
    sop_version: str | None
    sop_title: str
    period_from: date
    period_to: date
    steps: tuple[StepReport, ...]

    @property
    def verdict(self) -> str:
        """The SOP runs well when no step breached."""
        if any(step.verdict == RUNS_BADLY for step in self.steps):
            return RUNS_BADLY
        return RUNS_WELL if any(step.runs for step in self.steps) else NO_RUNS


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `share` of values <= it."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def monitoring_report(
    sop: Sop,
    standards: dict[int, float],
    runs: Iterable[Run],
    period_from: date,
    period_to: date,
    *,
    sop_version: str | None = None,
) -> MonitoringReport:
    """Summarise completed runs of `sop`'s steps; `standards` maps step -> working seconds."""
    by_step: dict[int, list[Run]] = {step.number: [] for step in sop.steps}
    for run in runs:
        by_step.setdefault(run.step, []).append(run)
    steps = []
    for step in sop.steps:
        mine = by_step[step.number]
        durations = [run.working_seconds for run in mine]
        breaches = sum(1 for run in mine if run.status == Status.BREACHED)
        rejected = [run for run in mine if run.outcome == "rejected"]
        verdict = NO_RUNS if not mine else RUNS_BADLY if breaches else RUNS_WELL
        steps.append(
            StepReport(
                step=step.number,
                name=step.name.id,
                role=step.role,
                standard_seconds=standards[step.number],
                runs=len(mine),
                median_seconds=statistics.median(durations) if durations else None,
                p90_seconds=percentile(durations, 0.9) if durations else None,
                breaches=breaches,
                at_risk=sum(1 for run in mine if run.status == Status.AT_RISK),
                rework_loops=sum(1 for run in mine if run.attempt > 1),
                rejections=len(rejected),
                rejection_reasons=dict(
                    sorted(Counter(run.reason or "" for run in rejected).items())
                ),
                verdict=verdict,
            )
        )
    return MonitoringReport(
        sop_id=sop.id,
        sop_version=sop_version,
        sop_title=sop.title.id,
        period_from=period_from,
        period_to=period_to,
        steps=tuple(steps),
    )
