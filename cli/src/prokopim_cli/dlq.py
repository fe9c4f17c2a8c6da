"""`prokopim dlq list|show|redrive`: the messages consumers gave up on, and a second chance.

A re-drive is a request written to the store (`dead_letters.redrive_requested_at`); the
service that owns the consumer runs its handler once more, in one transaction with its
dedupe row (`prokopim_events.redrive`), so the re-driven event takes effect exactly once.
Fix the cause first (`dlq show` gives the error), then re-drive.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from typing import Any
from uuid import UUID

import asyncpg
import orjson
import typer
from rich.console import Console

from .errors import DEFAULT_DATABASE_URL, ExitCode, open_store, run

app = typer.Typer(help="Dead letters: list, show, re-drive (after fixing their cause).")

DatabaseUrl = typer.Option(DEFAULT_DATABASE_URL, envvar="DATABASE_URL", help="the event store")
Json = typer.Option(False, "--json", help="print JSON instead of text")
Consumer = typer.Option(None, "--consumer", "-c", help="only this consumer's dead letters")

_ROWS = """
SELECT consumer, event_id, type, subject, payload, error, attempts, failed_at,
       redrive_requested_at, redrive_requested_by, redriven_at, redrive_outcome, redrive_error,
       CASE WHEN redriven_at IS NOT NULL THEN 'redriven'
            WHEN redrive_requested_at IS NOT NULL THEN 'requested'
            ELSE 'waiting' END AS state
  FROM dead_letters
 WHERE ($1::text IS NULL OR consumer = $1) AND ($2::uuid IS NULL OR event_id = $2)
   AND ($3 OR redriven_at IS NULL)
 ORDER BY failed_at, consumer
"""


def _case_of(payload: dict[str, Any]) -> tuple[str | None, Any]:
    """The case id and step a dead letter's event is about, when its payload parses."""
    try:
        data = orjson.loads(payload["raw"]).get("data") or {}
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return None, None
    return data.get("case_id"), data.get("step")


def _as_dict(row: asyncpg.Record, *, payload: bool = False) -> dict[str, Any]:
    case_id, step = _case_of(row["payload"])
    item: dict[str, Any] = {
        "consumer": row["consumer"],
        "event_id": str(row["event_id"]),
        "type": row["type"],
        "case_id": case_id,
        "step": step,
        "state": row["state"],
        "attempts": row["attempts"],
        "failed_at": row["failed_at"].isoformat(),
        "error": row["error"],
        "redrive_requested_at": _iso(row["redrive_requested_at"]),
        "redrive_requested_by": row["redrive_requested_by"],
        "redriven_at": _iso(row["redriven_at"]),
        "redrive_outcome": row["redrive_outcome"],
        "redrive_error": row["redrive_error"],
    }
    if payload:
        item["subject"] = row["subject"]
        raw = row["payload"].get("raw", "")
        try:
            item["payload"] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            item["payload"] = raw
    return item


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def _fetch(
    database_url: str, consumer: str | None, event_id: UUID | None, everything: bool
) -> list[asyncpg.Record]:
    conn = await open_store(database_url, need="dead_letters")
    try:
        return list(await conn.fetch(_ROWS, consumer, event_id, everything))
    finally:
        await conn.close()


def _event_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a UUID (see `prokopim dlq list`)") from None


@app.command("list")
def list_dead_letters(
    consumer: str | None = Consumer,
    everything: bool = typer.Option(False, "--all", help="also those already re-driven"),
    as_json: bool = Json,
    database_url: str = DatabaseUrl,
) -> None:
    """List dead letters not yet re-driven (exit 1 when there are any)."""
    rows = run(_fetch(database_url, consumer, None, everything))
    items = [_as_dict(row) for row in rows]
    if as_json:
        typer.echo(json.dumps(items))
    elif not items:
        typer.echo("no dead letters" + ("" if everything else " waiting"))
    else:
        for item in items:
            typer.echo(
                f"{item['failed_at'][:19]}  {item['state']:<9}  {item['consumer']:<20}"
                f" {item['event_id']}  {item['type'].removeprefix('prokopim.'):<34}"
                f" case {item['case_id'] or '-'}  {item['error'][:80]}"
            )
    if any(item["state"] != "redriven" for item in items):
        raise typer.Exit(ExitCode.FINDING)


@app.command()
def show(
    event_id: str = typer.Argument(..., help="the dead letter's event id (from `dlq list`)"),
    consumer: str | None = Consumer,
    as_json: bool = Json,
    database_url: str = DatabaseUrl,
) -> None:
    """Show a dead letter: its error, attempts, re-drive state and the event itself."""
    wanted = _event_id(event_id)
    rows = run(_fetch(database_url, consumer, wanted, True))
    if not rows:
        raise _unknown(event_id, consumer)
    items = [_as_dict(row, payload=True) for row in rows]
    if as_json:
        typer.echo(json.dumps(items if len(items) > 1 else items[0]))
        return
    for item in items:
        for key, value in item.items():
            if key != "payload" and value is not None:
                typer.echo(f"{key:<21} {value}")
        typer.echo("payload\n" + json.dumps(item["payload"], indent=2, ensure_ascii=False))


def _unknown(event_id: str, consumer: str | None) -> typer.Exit:
    whose = f" of consumer {consumer}" if consumer else ""
    typer.echo(f"prokopim: no dead letter {event_id}{whose} (see `prokopim dlq list`)", err=True)
    return typer.Exit(ExitCode.USAGE)


_REQUEST = """
UPDATE dead_letters
   SET redrive_requested_at = now(), redrive_requested_by = $3,
       redrive_outcome = NULL, redrive_error = NULL
 WHERE ($1::text IS NULL OR consumer = $1) AND ($2::uuid IS NULL OR event_id = $2)
   AND redriven_at IS NULL
RETURNING consumer, event_id
"""
_OUTCOMES = """
SELECT consumer, event_id, redriven_at, redrive_outcome, redrive_error FROM dead_letters
 WHERE (consumer, event_id) IN (SELECT * FROM unnest($1::text[], $2::uuid[]))
"""


async def _redrive(
    database_url: str,
    consumer: str | None,
    event_id: UUID | None,
    wait: float,
    console: Console,
) -> list[dict[str, Any]]:
    conn = await open_store(database_url, need="dead_letters")
    try:
        requested = await conn.fetch(_REQUEST, consumer, event_id, getpass.getuser())
        keys = ([r["consumer"] for r in requested], [r["event_id"] for r in requested])
        if not requested or wait <= 0:
            return [
                {"consumer": r["consumer"], "event_id": str(r["event_id"]), "state": "requested"}
                for r in requested
            ]
        deadline = time.monotonic() + wait
        with console.status(f"re-driving {len(requested)} dead letters...") as status:
            while True:
                rows = await conn.fetch(_OUTCOMES, *keys)
                done = [r for r in rows if r["redriven_at"] or r["redrive_outcome"] == "failed"]
                status.update(f"re-driven {len(done)} of {len(requested)} dead letters...")
                if len(done) == len(requested) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
        return [
            {
                "consumer": r["consumer"],
                "event_id": str(r["event_id"]),
                "state": r["redrive_outcome"] or "requested",
                "error": r["redrive_error"],
            }
            for r in rows
        ]
    finally:
        await conn.close()


@app.command()
def redrive(
    event_id: str | None = typer.Argument(None, help="the dead letter's event id"),
    consumer: str | None = Consumer,
    everything: bool = typer.Option(False, "--all", help="every waiting dead letter"),
    wait: float = typer.Option(
        60.0, help="seconds to wait for the consumers to re-drive (0: only ask)"
    ),
    as_json: bool = Json,
    database_url: str = DatabaseUrl,
) -> None:
    """Ask the consumer(s) to handle dead letters once more, exactly once, and wait for it.

    Exit 0: re-driven (or nothing to do); 1: a re-drive failed again or no consumer took it
    up in time; 2: no such dead letter.
    """
    if (event_id is None) == (not everything):
        raise typer.BadParameter("give one EVENT_ID or --all (with --consumer to narrow it)")
    wanted = _event_id(event_id) if event_id is not None else None
    results = run(_redrive(database_url, consumer, wanted, wait, Console(stderr=True)))
    if not results and wanted is not None:
        rows = run(_fetch(database_url, consumer, wanted, True))
        if not rows:
            raise _unknown(event_id or "", consumer)
        typer.echo(f"{event_id}: already re-driven ({rows[0]['redrive_outcome']})")
        return
    if as_json:
        typer.echo(json.dumps(results))
    for item in results if not as_json else []:
        error = f": {item['error']}" if item.get("error") else ""
        typer.echo(f"{item['consumer']:<20} {item['event_id']}  {item['state']}{error}")
    if not as_json and not results:
        typer.echo("no dead letters waiting")
    if wait > 0 and any(item["state"] not in ("processed", "duplicate") for item in results):
        _explain_unfinished(results)
        raise typer.Exit(ExitCode.FINDING)


def _explain_unfinished(results: list[dict[str, Any]]) -> None:
    waiting = sorted({r["consumer"] for r in results if r["state"] == "requested"})
    if waiting:
        typer.echo(
            f"prokopim: not taken up yet by {', '.join(waiting)}: is that service running?"
            " (the request stays; it is re-driven when the service runs)",
            err=True,
        )
    if any(r["state"] == "failed" for r in results):
        typer.echo("prokopim: a re-drive failed again: see `prokopim dlq show`", err=True)
