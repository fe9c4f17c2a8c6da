"""`prokopim verify`: check the event store's hash chains and the seals of its order."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from prokopim_events.keys import ChainKeySettings, Keyring
from prokopim_events.seal_export import read_heads
from prokopim_events.settings import load_settings
from prokopim_events.verify import VerifyReport, verify_store
from rich.console import Console

from .errors import DEFAULT_DATABASE_URL, ExitCode, open_store, run


async def _verify(
    database_url: str, keys: Keyring, seal_heads: Path | None, console: Console
) -> VerifyReport:
    heads = list(read_heads(seal_heads)) if seal_heads is not None else None
    conn = await open_store(database_url)
    try:
        # An estimate from the planner's statistics: free, where count(*) would read it all.
        estimate = await conn.fetchval(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'events'::regclass"
        )
        with console.status(f"verifying about {estimate:,} events (chains, then seals)..."):
            return await verify_store(conn, keys, heads)
    finally:
        await conn.close()


def _as_json(report: VerifyReport) -> str:
    problem = report.first_problem
    return json.dumps(
        {
            "ok": report.ok,
            "events": report.events,
            "streams": report.streams,
            "seals": report.seals,
            "sealed_up_to": report.sealed_up_to,
            "unsealed_events": report.unsealed_events,
            "problems": report.problems,
            "first_problem": problem.describe() if problem is not None else None,
            "seconds": round(report.seconds, 3),
            "summary": report.summary(),
        }
    )


def verify(
    database_url: str = typer.Option(DEFAULT_DATABASE_URL, envvar="DATABASE_URL"),
    seal_heads: Path | None = typer.Option(
        None,
        envvar="LEDGER_SEAL_EXPORT_FILE",
        exists=True,
        dir_okay=False,
        help="the seal heads the ledger exported (each must still be in the database)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the report as one JSON object"),
) -> None:
    """Check every stream's hash chain and every seal under the chain keys
    (PROKOPIM_CHAIN_KEY, PROKOPIM_CHAIN_OLD_KEYS), and the exported seal heads; name the
    first event changed, reordered, deleted or forged (exit code 1), or print one OK line.
    Exit 3: the store cannot be reached or is not migrated."""
    keys = load_settings(ChainKeySettings).keyring()
    report = run(_verify(database_url, keys, seal_heads, Console(stderr=True)))
    if keys.empty:
        typer.echo(
            "warning: no PROKOPIM_CHAIN_KEY: keyed chains and seals cannot be checked", err=True
        )
    typer.echo(_as_json(report) if as_json else report.summary())
    if not report.ok:
        raise typer.Exit(ExitCode.FINDING)
