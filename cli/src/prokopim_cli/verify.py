"""`prokopim verify`: check the event store's hash chains and the seals of its order."""

from __future__ import annotations

import asyncio

import typer
from prokopim_events.db import connect
from prokopim_events.verify import VerifyReport, verify_store


async def _verify(database_url: str) -> VerifyReport:
    conn = await connect(database_url)
    try:
        return await verify_store(conn)
    finally:
        await conn.close()


def verify(
    database_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres", envvar="DATABASE_URL"
    ),
) -> None:
    """Check every stream's hash chain and every seal; name the first event changed,
    reordered or deleted (exit code 1), or print one OK line with counts."""
    report = asyncio.run(_verify(database_url))
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)
