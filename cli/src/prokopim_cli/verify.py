"""`prokopim verify`: check the event store's hash chains and the seals of its order."""

from __future__ import annotations

import json

import typer
from prokopim_events.verify import VerifyReport, verify_store
from rich.console import Console

from .errors import DEFAULT_DATABASE_URL, ExitCode, open_store, run


async def _verify(database_url: str, console: Console) -> VerifyReport:
    conn = await open_store(database_url)
    try:
        # An estimate from the planner's statistics: free, where count(*) would read it all.
        estimate = await conn.fetchval(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'events'::regclass"
        )
        with console.status(f"verifying about {estimate:,} events (chains, then seals)..."):
            return await verify_store(conn)
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
    as_json: bool = typer.Option(False, "--json", help="print the report as one JSON object"),
) -> None:
    """Check every stream's hash chain and every seal; name the first event changed,
    reordered or deleted (exit code 1), or print one OK line with counts.
    Exit 3: the store cannot be reached or is not migrated."""
    report = run(_verify(database_url, Console(stderr=True)))
    typer.echo(_as_json(report) if as_json else report.summary())
    if not report.ok:
        raise typer.Exit(ExitCode.FINDING)
