"""`prokopim replay`: drop and rebuild every ledger projection from the event store."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import TYPE_CHECKING

import typer
from prokopim_events.migrations import backbone_migrations, migrate
from prokopim_sop import load_catalog
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .errors import open_store, run

if TYPE_CHECKING:  # the ledger (and FastAPI with it) is imported when a replay runs
    from prokopim_ledger.rebuild import RebuildStats

PHASES = {"audit": "audit trail", "sla": "step attempts"}


def replay(
    database_url: str = typer.Option(
        os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="the event store (env DATABASE_URL)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the figures as one JSON object"),
) -> None:
    """Rebuild the ledger's audit, step-attempt and case projections from the store.
    Exit 3: the store cannot be reached."""
    # Progress goes to stderr, so that --json leaves stdout to the figures alone.
    console = Console(stderr=True)
    stats = run(_replay(database_url, console))
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(stats)))
        return
    typer.echo(
        f"replayed {stats.events:,} events ({stats.cases:,} cases, {stats.attempts:,} step"
        f" attempts) in {stats.seconds:.2f}s: {stats.events_per_second:,.0f} events/s"
    )


async def _replay(database_url: str, console: Console) -> RebuildStats:
    from prokopim_kit.office_calendar import CalendarSettings
    from prokopim_ledger.projection import ledger_migrations
    from prokopim_ledger.rebuild import rebuild

    conn = await open_store(database_url, need=None)
    try:
        reader = await open_store(database_url, need=None)
    except BaseException:
        await conn.close()
        raise
    try:
        await migrate(conn, [*backbone_migrations(), *ledger_migrations()])
        columns = (
            TextColumn("{task.description:<14}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            tasks = {phase: progress.add_task(label, total=None) for phase, label in PHASES.items()}

            def advance(phase: str, done: int, total: int) -> None:
                progress.update(tasks[phase], completed=done, total=total)

            calendar = CalendarSettings().calendar()
            return await rebuild(conn, load_catalog(), calendar, advance, reader=reader)
    finally:
        await reader.close()
        await conn.close()
