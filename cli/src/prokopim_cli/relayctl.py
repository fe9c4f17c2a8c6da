"""`prokopim relay`: where the relay stands, rewind it, list what it quarantined.

`status` shows the lease (who publishes, until when), the checkpoint and the lag;
`rewind` moves the checkpoint back so the relay re-publishes from the store (consumers
deduplicate by event id, so a repeat is harmless); `quarantine` lists the events the bus
refused for good (exit code 1 when there are any).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from prokopim_events import relay_state
from prokopim_events.db import connect
from prokopim_events.store import Checkpoint

relay_app = typer.Typer(help="The outbox relay: status, rewind, quarantined events.")

DATABASE_URL = typer.Option("postgresql://postgres@127.0.0.1:5432/postgres", envvar="DATABASE_URL")
RELAY_NAME = typer.Option("default", "--name", envvar="PROKOPIM_RELAY_NAME", help="relay name")
AS_JSON = typer.Option(False, "--json", help="print JSON")


async def _status(database_url: str, name: str) -> dict[str, Any]:
    conn = await connect(database_url)
    try:
        saved = await relay_state.load(conn, name)
        lease = await conn.fetchrow(
            "SELECT token, holder, renewed_at, expires_at, expires_at > now() AS active"
            " FROM relay_leases WHERE relay_name = $1",
            name,
        )
        quarantined = await conn.fetchval(
            "SELECT count(*) FROM relay_quarantine WHERE relay_name = $1", name
        )
        return {
            "relay": name,
            "checkpoint_position": saved.checkpoint.global_position,
            "lag_events": await relay_state.lag(conn, saved.checkpoint),
            "stream_sequence": saved.mark.sequence,
            "leader": lease["holder"] if lease and lease["active"] else None,
            "lease_token": lease["token"] if lease else None,
            "lease_expires_at": lease["expires_at"].isoformat() if lease else None,
            "quarantined": quarantined,
        }
    finally:
        await conn.close()


@relay_app.command()
def status(
    database_url: str = DATABASE_URL, name: str = RELAY_NAME, as_json: bool = AS_JSON
) -> None:
    """Show the relay's leader, checkpoint, lag and quarantined events."""
    report = asyncio.run(_status(database_url, name))
    if as_json:
        typer.echo(json.dumps(report))
        return
    leader = report["leader"] or "none (standing by or stopped)"
    typer.echo(
        f"relay {name}: leader {leader}; checkpoint at position"
        f" {report['checkpoint_position']}, lag {report['lag_events']} events,"
        f" {report['quarantined']} quarantined"
    )


async def _rewind(database_url: str, name: str, position: int) -> Checkpoint:
    conn = await connect(database_url)
    try:
        if position == 0:
            checkpoint = Checkpoint()
        else:
            found = await relay_state.checkpoint_at(conn, position)
            if found is None:
                raise typer.BadParameter(f"no event at position {position}", param_hint="--after")
            checkpoint = found
        await relay_state.rewind(conn, name, checkpoint)
        return checkpoint
    finally:
        await conn.close()


@relay_app.command()
def rewind(
    after: int = typer.Option(
        ...,
        "--after",
        min=0,
        help="re-publish every event committed after the one at this"
        " global position (0: from the start)",
    ),
    database_url: str = DATABASE_URL,
    name: str = RELAY_NAME,
) -> None:
    """Move the relay's checkpoint back; the active relay steps down and re-publishes."""
    asyncio.run(_rewind(database_url, name, after))
    where = "the start" if after == 0 else f"position {after}"
    typer.echo(f"relay {name}: rewound to {where}; re-publishing (consumers deduplicate)")


async def _quarantine(database_url: str, name: str) -> list[dict[str, Any]]:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id, global_position, type, stream_id, error, quarantined_at"
            " FROM relay_quarantine WHERE relay_name = $1 ORDER BY global_position",
            name,
        )
    finally:
        await conn.close()
    return [
        {
            "event_id": str(row["event_id"]),
            "global_position": row["global_position"],
            "type": row["type"],
            "stream_id": row["stream_id"],
            "error": row["error"],
            "quarantined_at": row["quarantined_at"].isoformat(),
        }
        for row in rows
    ]


@relay_app.command()
def quarantine(
    database_url: str = DATABASE_URL, name: str = RELAY_NAME, as_json: bool = AS_JSON
) -> None:
    """List the events the bus refused for good (exit code 1 when there are any)."""
    rows = asyncio.run(_quarantine(database_url, name))
    if as_json:
        typer.echo(json.dumps(rows))
    elif not rows:
        typer.echo(f"relay {name}: no quarantined events")
    for row in rows if not as_json else []:
        typer.echo(
            f"{row['global_position']}\t{row['event_id']}\t{row['type']}\t{row['stream_id']}"
            f"\t{row['quarantined_at']}\t{row['error']}"
        )
    if rows:
        raise typer.Exit(1)
