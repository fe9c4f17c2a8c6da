"""`prokopim cases stuck`: hand-overs that no service took up within a threshold."""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from prokopim_kit.stuck import StuckCase, stuck_cases
from prokopim_sop import load_catalog

from .errors import DEFAULT_DATABASE_URL, ExitCode, open_store, run

app = typer.Typer(help="Cases: what on-call looks for.")


async def _stuck(database_url: str, older_than: timedelta) -> list[StuckCase]:
    conn = await open_store(database_url)
    try:
        return await stuck_cases(conn, load_catalog(), older_than)
    finally:
        await conn.close()


@app.command()
def stuck(
    minutes: float = typer.Option(
        15.0, "--older-than", min=0, help="minutes a hand-over may wait (STUCK_AFTER_SECONDS)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of text"),
    database_url: str = typer.Option(DEFAULT_DATABASE_URL, envvar="DATABASE_URL"),
) -> None:
    """List cases handed to a service that opened no step for longer than --older-than
    minutes (exit 1 when there are any). Next: `prokopim dlq list`, `prokopim consumers`."""
    found = run(_stuck(database_url, timedelta(minutes=minutes)))
    if as_json:
        typer.echo(json.dumps([case.as_dict() for case in found]))
    elif not found:
        typer.echo(f"no hand-over waiting longer than {minutes:g} minutes")
    for case in found if not as_json else []:
        typer.echo(
            f"case {case.case_id}  {case.sop_id} step {case.step} -> {case.next_step}"
            f"  {case.from_service} -> {case.to_service}"
            f"  waiting {case.waiting_seconds / 60:,.0f} min"
            f" since {case.handed_over_at:%Y-%m-%d %H:%M}"
            f"  (event {case.event_id})"
        )
    if found:
        raise typer.Exit(ExitCode.FINDING)
