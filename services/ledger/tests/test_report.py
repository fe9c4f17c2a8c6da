"""The monitoring report: per step runs, median/p90 against the standard, and a verdict."""

from __future__ import annotations

from datetime import date

import pytest
from prokopim_ledger.report import RUNS_BADLY, RUNS_WELL, Run, monitoring_report, percentile
from prokopim_sop import load_catalog

pytestmark = pytest.mark.unit

TGR = load_catalog().get("tgr-58-2025")
STANDARDS = {s.number: float(s.standard_minutes or 0) * 60 for s in TGR.steps}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 11)]
    assert percentile(values, 0.9) == 9
    assert percentile([5.0], 0.9) == 5
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2


def test_report_per_step() -> None:
    runs = [
        Run(5, 1, 600, "on-time", "rejected", "foto buram"),
        Run(5, 2, 1500, "at-risk", "approved"),
        Run(5, 3, 2000, "breached", "rejected", "foto buram"),
        Run(5, 4, 300, "on-time", "approved"),
        Run(7, 1, 900, "at-risk", "completed"),
    ]
    report = monitoring_report(TGR, STANDARDS, runs, date(2025, 1, 1), date(2025, 7, 1))
    step5 = report.steps[4]
    assert (step5.runs, step5.median_seconds, step5.p90_seconds) == (4, 1050, 2000)
    assert (step5.breaches, step5.at_risk, step5.rework_loops) == (1, 1, 3)
    assert step5.rejection_reasons == {"foto buram": 2}
    assert step5.verdict == RUNS_BADLY and step5.standard_seconds == 1800
    step7 = report.steps[6]
    assert (step7.runs, step7.median_seconds, step7.verdict) == (1, 900, RUNS_WELL)
    assert report.steps[0].runs == 0 and report.steps[0].median_seconds is None
    assert report.verdict == RUNS_BADLY
