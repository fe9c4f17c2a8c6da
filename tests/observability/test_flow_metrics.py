"""After a case has run, every service's /metrics and the relay's add up to the store."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import date

import asyncpg
import httpx
import pytest
from prokopim_cli.flows import CaseRun, Driver, request_body, run_case
from prokopim_cli.system import SERVICES
from prokopim_sop import load_catalog

from .conftest import Launch, Launched
from .scrape import sample, samples

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
CONSUMERS = ("scheduling", "production", "review", "publishing", "ledger")


async def stored_types(database_url: str) -> Counter[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT type, count(*) AS n FROM events GROUP BY type")
    finally:
        await conn.close()
    return Counter({row["type"]: row["n"] for row in rows})


async def scrape_all(system: Launched) -> dict[str, str]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        pages = {
            name: (await http.get(f"{url}/metrics")).text
            for name, url in system.running.urls.items()
        }
        pages["relay"] = (await http.get(system.relay_metrics_url)).text
    return pages


def per_type(text: str, name: str, labels: dict[str, str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for sample_labels, value in samples(text, name):
        if all(sample_labels.get(key) == want for key, want in labels.items()):
            found[sample_labels["type"]] += int(value)
    return found


def commands(page: str, **labels: str) -> float:
    return sample(page, "prokopim_commands_total", labels)


def taken(page: str, name: str, outcome: str | None = None) -> Counter[str]:
    """A consumer's events by type: handled (`processed`), acked unhandled as none of its
    concern (`skipped`), or, without `outcome`, both: every event it took off the bus once."""
    consumed = "prokopim_events_consumed_total"
    labels = {"consumer": f"prokopim-{name}"}
    if outcome is not None:
        return per_type(page, consumed, {**labels, "outcome": outcome})
    return taken(page, name, "processed") + taken(page, name, "skipped")


def _lagging(pages: dict[str, str], stored: Counter[str]) -> str:
    """Say which process's counts differ from the store's, and how."""
    published = per_type(pages["relay"], "prokopim_events_published_total", {})
    lines = [f"relay: {dict(published - stored)} / {dict(stored - published)}"]
    for name in CONSUMERS:
        seen = taken(pages[name], name)
        lines.append(f"{name}: extra {dict(seen - stored)}, missing {dict(stored - seen)}")
    return "consumers or relay never caught up in /metrics:\n" + "\n".join(lines)


def settled(pages: dict[str, str], stored: Counter[str], namespace: str) -> bool:
    if per_type(pages["relay"], "prokopim_events_published_total", {}) != stored:
        return False
    return all(taken(pages[name], name) == stored for name in CONSUMERS)


async def test_metrics_after_a_case(launch: Launch) -> None:
    system = await launch({})
    namespace = system.env["PROKOPIM_NAMESPACE"]
    driver = Driver(system.running.urls, system.secret)
    try:
        run = await run_case(driver, BANDUNG, reject={8: 1})
        body = request_body(BANDUNG, "Salah peran", date.today())
        with pytest.raises(RuntimeError, match="403"):
            await driver.call(CaseRun(), "intake", "/cases", "ka-bagian", body)
    finally:
        await driver.close()

    stored = await stored_types(system.database_url)
    deadline = time.monotonic() + 60
    pages = await scrape_all(system)
    while not settled(pages, stored, namespace):
        assert time.monotonic() < deadline, _lagging(pages, stored)
        await asyncio.sleep(0.3)
        pages = await scrape_all(system)
        # effects record their outcome later (here: no mail server, so mail-failed events)
        stored = await stored_types(system.database_url)

    for name in SERVICES:
        made = sum(1 for service, _, status in run.calls if service == name and status < 400)
        assert commands(pages[name], service=name, outcome="accepted") == made, name
    registered = {"service": "intake", "command": "register_request"}
    assert commands(pages["intake"], **registered, outcome="accepted") == 1
    assert commands(pages["intake"], **registered, outcome="wrong_role") == 1

    for name in CONSUMERS:
        consumer = {"consumer": f"prokopim-{name}"}
        consumed = "prokopim_events_consumed_total"
        retried = per_type(pages[name], consumed, {**consumer, "outcome": "retried"})
        timed = per_type(pages[name], "prokopim_handler_duration_seconds_count", consumer)
        handled = taken(pages[name], name, "processed")
        assert timed == handled + retried, name  # every handling is timed, failed ones too
        assert handled, name  # each consumer acts on some of the case's events
        # a retried delivery comes again: one redelivery each (none lost, none to spare)
        redelivered = sample(pages[name], "prokopim_redeliveries_total", consumer)
        assert redelivered == retried.total(), name
        assert sample(pages[name], "prokopim_dead_letters_total", consumer) == 0
        assert sample(pages[name], consumed, {**consumer, "outcome": "dead_lettered"}) == 0
    assert sample(pages["relay"], "prokopim_relay_lag_events", {}) == 0
