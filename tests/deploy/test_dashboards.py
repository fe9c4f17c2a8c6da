"""Grafana provisioning: datasources, dashboards, and queries that use the metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .stack import ROOT

DEPLOY = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((DEPLOY / "dashboards").glob("*.json"))

# The shared metric names (COMMON brief) and their labels.
METRICS: dict[str, set[str]] = {
    "prokopim_commands_total": {"service", "command", "outcome"},
    "prokopim_events_published_total": {"type"},
    "prokopim_relay_lag_events": set(),
    "prokopim_events_consumed_total": {"consumer", "type", "outcome"},
    "prokopim_handler_duration_seconds": {"consumer", "type"},
    "prokopim_redeliveries_total": {"consumer"},
    "prokopim_dead_letters_total": {"consumer"},
    "prokopim_sla_step_duration_seconds": {"sop", "step"},
    "prokopim_sla_at_risk_total": {"sop", "step", "role"},
    "prokopim_sla_breaches_total": {"sop", "step", "role"},
    "prokopim_cases_open": {"sop", "step"},
    "prokopim_ledger_lag_events": set(),
}
HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")
METRIC_NAME = re.compile(r"\bprokopim_[a-z_]+")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def expressions(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def metric_of(series: str) -> str:
    return series if series in METRICS else HISTOGRAM_SERIES.sub("", series)


def test_there_are_dashboards() -> None:
    assert {p.name for p in DASHBOARDS} >= {"prokopim-sla.json", "prokopim-events.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_queries_use_only_the_shared_metric_names_and_their_labels(path: Path) -> None:
    for expr in expressions(load(path)):
        series = METRIC_NAME.findall(expr)
        assert series, expr
        labels: set[str] = {"le"}
        for name in series:
            metric = metric_of(name)
            assert metric in METRICS, f"{name} in {expr!r} is not a shared metric name"
            labels |= METRICS[metric]
        used = {
            label.strip()
            for group in GROUPING.findall(expr)
            for label in group.split(",")
            if label.strip()
        }
        used |= {m.split("=")[0].strip() for g in MATCHERS.findall(expr) for m in g.split(",")}
        assert used <= labels, f"{expr!r} groups or filters by unknown labels {used - labels}"


def test_every_shared_metric_is_on_some_dashboard() -> None:
    shown = {
        metric_of(s)
        for p in DASHBOARDS
        for e in expressions(load(p))
        for s in METRIC_NAME.findall(e)
    }
    assert shown == set(METRICS)


def test_dashboards_cover_sla_breaches_cases_throughput_and_lag() -> None:
    titles = " | ".join(p["title"].lower() for d in DASHBOARDS for p in load(d)["panels"])
    for topic in ("per step", "breaches", "cases in flight", "published", "consumer lag"):
        assert topic in titles, topic


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_are_well_formed_and_use_provisioned_datasources(path: Path) -> None:
    provisioned = yaml.safe_load(
        (DEPLOY / "provisioning" / "datasources" / "prokopim.yaml").read_text()
    )
    uids = {ds["uid"] for ds in provisioned["datasources"]}
    dashboard = load(path)
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] in uids
        assert panel["targets"] and {"x", "y", "w", "h"} <= set(panel["gridPos"])
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


def test_grafana_loads_the_dashboards_from_where_compose_mounts_them() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in grafana["volumes"][:2])
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(
        (DEPLOY / "provisioning" / "dashboards" / "prokopim.yaml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert mounts["./deploy/grafana/dashboards"] == path
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert Path(home).parent == Path(path) and (DEPLOY / "dashboards" / Path(home).name).exists()
