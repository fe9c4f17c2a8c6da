"""Renderings of projections: CSV for spreadsheets, a printable HTML monitoring report."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import jinja2

from .report import MonitoringReport

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("prokopim_ledger", "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
)

REPORT_COLUMNS = (
    "step",
    "name",
    "role",
    "standard_seconds",
    "runs",
    "median_seconds",
    "p90_seconds",
    "breaches",
    "at_risk",
    "rework_loops",
    "rejections",
    "rejection_reasons",
    "verdict",
)


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else value


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Write dict rows as CSV with a header; nested values as JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def report_json(report: MonitoringReport) -> dict[str, Any]:
    """Return the monitoring report as a JSON object."""
    body = dataclasses.asdict(report)
    body["period_from"] = report.period_from.isoformat()
    body["period_to"] = report.period_to.isoformat()
    body["verdict"] = report.verdict
    return body


def report_csv(report: MonitoringReport) -> str:
    """Return the monitoring report's steps as CSV."""
    return to_csv((dataclasses.asdict(step) for step in report.steps), REPORT_COLUMNS)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


def report_html(report: MonitoringReport) -> str:
    """Return the monitoring report as a printable HTML page."""
    return _env.get_template("monitoring.html").render(report=report, minutes=_minutes)
