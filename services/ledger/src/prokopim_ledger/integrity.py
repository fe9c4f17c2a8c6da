"""Tamper evidence in the running system: seal by count and by time, verify continuously.

The ledger is the sealer (it holds the chain key, which keys the seals) and the watcher:
every LEDGER_VERIFY_INTERVAL_SECONDS it runs what `prokopim verify` runs, against the
exported seal heads when LEDGER_SEAL_EXPORT_FILE is set, and publishes the outcome as
Prometheus metrics (`prokopim_verify_ok` 0 is the alert) and an ERROR log naming the first
problem.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from prokopim_events.chain import ChainKey
from prokopim_events.keys import Keyring
from prokopim_events.seal_export import read_heads
from prokopim_events.seals import seal_pending
from prokopim_events.verify import VerifyReport, verify_store
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntegrityMetrics:
    ok: Gauge
    problems: Gauge
    verified_position: Gauge
    last_run: Gauge
    failures: Counter
    sealed_position: Gauge


_made: IntegrityMetrics | None = None


def integrity_metrics() -> IntegrityMetrics:
    """Return the process's verify metrics, registering them on the first call."""
    global _made
    if _made is None:
        _made = IntegrityMetrics(
            ok=Gauge(
                "prokopim_verify_ok",
                "1 if the last verification found every chain and seal intact, else 0",
            ),
            problems=Gauge("prokopim_verify_problems", "Problems the last verification found"),
            verified_position=Gauge(
                "prokopim_verify_verified_position",
                "The highest global position the last verification checked",
            ),
            last_run=Gauge(
                "prokopim_verify_last_run_timestamp_seconds",
                "When the last verification finished (Unix time)",
            ),
            failures=Counter(
                "prokopim_verify_failures_total",
                "Verifications that found tampering (or could not run)",
            ),
            sealed_position=Gauge(
                "prokopim_sealed_position", "The last global position covered by a seal"
            ),
        )
    return _made


@dataclass(frozen=True)
class IntegritySettings:
    """How the ledger seals and verifies (from its Settings)."""

    key: ChainKey | None
    keys: Keyring
    seal_interval: float
    seal_range: int
    seal_max_age: float
    export: Path | None
    verify_interval: float


async def seal_loop(pool: asyncpg.Pool, settings: IntegritySettings) -> None:
    """Seal complete ranges every `seal_interval`, and the settled rest once the newest
    seal is `seal_max_age` old, exporting each head."""
    while True:
        try:
            async with pool.acquire() as conn:
                await seal_pending(
                    conn,
                    range_size=settings.seal_range,
                    key=settings.key,
                    partial_after=settings.seal_max_age,
                    export=settings.export,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sealing failed; retrying")
        await asyncio.sleep(settings.seal_interval)


async def verify_once(
    pool: asyncpg.Pool, settings: IntegritySettings, metrics: IntegrityMetrics
) -> VerifyReport | None:
    """Verify the store once and publish the outcome; None if it could not run."""
    try:
        heads = None
        export = settings.export
        if export is not None and export.exists():
            heads = await asyncio.to_thread(lambda: list(read_heads(export)))
        async with pool.acquire() as conn:
            report = await verify_store(conn, settings.keys, heads)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("verification could not run")
        metrics.ok.set(0)
        metrics.failures.inc()
        return None
    metrics.ok.set(1 if report.ok else 0)
    metrics.problems.set(report.problems)
    metrics.verified_position.set(report.last_position)
    metrics.sealed_position.set(report.sealed_up_to)
    metrics.last_run.set(time.time())
    if report.ok:
        log.info("verify: %s", report.summary())
    else:
        metrics.failures.inc()
        log.error("verify: %s", report.summary())
    return report


async def verify_loop(pool: asyncpg.Pool, settings: IntegritySettings) -> None:
    """Verify every `verify_interval` seconds, for as long as the ledger runs."""
    metrics = integrity_metrics()
    if settings.keys.empty:
        log.warning("no PROKOPIM_CHAIN_KEY: keyed chains and seals cannot be verified")
    while True:
        await verify_once(pool, settings, metrics)
        await asyncio.sleep(settings.verify_interval)
