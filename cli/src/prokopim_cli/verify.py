"""`prokopim verify`: check the event store's hash chains and the seals of its order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from prokopim_events.db import connect
from prokopim_events.keys import ChainKeySettings, Keyring
from prokopim_events.seal_export import read_heads
from prokopim_events.settings import load_settings
from prokopim_events.verify import VerifyReport, verify_store


async def _verify(database_url: str, keys: Keyring, seal_heads: Path | None) -> VerifyReport:
    heads = list(read_heads(seal_heads)) if seal_heads is not None else None
    conn = await connect(database_url)
    try:
        return await verify_store(conn, keys, heads)
    finally:
        await conn.close()


def verify(
    database_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres", envvar="DATABASE_URL"
    ),
    seal_heads: Path | None = typer.Option(
        None,
        envvar="LEDGER_SEAL_EXPORT_FILE",
        exists=True,
        dir_okay=False,
        help="the seal heads the ledger exported (each must still be in the database)",
    ),
) -> None:
    """Check every stream's hash chain and every seal under the chain keys
    (PROKOPIM_CHAIN_KEY, PROKOPIM_CHAIN_OLD_KEYS), and the exported seal heads; name the
    first event changed, reordered, deleted or forged (exit code 1), or print one OK line."""
    keys = load_settings(ChainKeySettings).keyring()
    report = asyncio.run(_verify(database_url, keys, seal_heads))
    if keys.empty:
        typer.echo("warning: no PROKOPIM_CHAIN_KEY: keyed chains and seals cannot be checked")
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)
