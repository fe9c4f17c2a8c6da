"""Exit codes and one-line errors shared by every operator command.

An operator (or a cron job, or a monitoring probe) reads the exit code before any text:

- 0: done, nothing to report;
- 1: a finding: tampering, dead letters waiting, stuck cases, a failed re-drive;
- 2: the command line is wrong (unknown option, unknown id): fix the invocation;
- 3: PostgreSQL or NATS cannot be reached, or the database is not migrated: fix the
  installation, then run the command again.

Everything that means 3 is reported as one line naming the setting or the step to take,
never as a traceback; a traceback is left only for what is a bug.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable, Coroutine
from enum import IntEnum
from typing import Any, ParamSpec, TypeVar

import asyncpg
import nats
import nats.errors
import typer
from nats.aio.client import Client as NatsClient
from prokopim_events.db import connect
from prokopim_events.nats_connection import _without_password as masked

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


class ExitCode(IntEnum):
    """What a prokopim command's exit status means."""

    OK = 0
    FINDING = 1
    USAGE = 2
    UNAVAILABLE = 3


class Unavailable(Exception):
    """The store or the bus cannot serve the command; the message says what to fix."""


class UsageError(Exception):
    """The command names something that does not exist; the message says what."""


def connect_timeout() -> float:
    """PROKOPIM_CONNECT_TIMEOUT_SECONDS (default 10): how long a command waits for a server."""
    return float(os.environ.get("PROKOPIM_CONNECT_TIMEOUT_SECONDS", "10"))


async def open_store(database_url: str, *, need: str | None = "events") -> asyncpg.Connection:
    """Connect to the event store, or raise Unavailable naming DATABASE_URL or the migration.

    `need` is a table the command reads: its absence means the migrations have not run
    (None: the command migrates itself).
    """
    where = f"DATABASE_URL {masked(database_url)}"
    try:
        conn = await asyncio.wait_for(connect(database_url), connect_timeout())
    except TimeoutError:
        raise Unavailable(
            f"PostgreSQL did not answer within {connect_timeout():g} s at {where}"
            " (PROKOPIM_CONNECT_TIMEOUT_SECONDS)"
        ) from None
    except asyncpg.InvalidCatalogNameError as error:
        raise Unavailable(f"{error} at {where}: create it or fix DATABASE_URL") from None
    except (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError) as e:
        raise Unavailable(f"PostgreSQL refused the login at {where}: {e}") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise Unavailable(f"cannot reach PostgreSQL at {where}: {reason}") from None
    if need is not None and not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", need):
        await conn.close()
        raise Unavailable(
            f"the database at {where} is not migrated (no table {need}):"
            " run `prokopim-migrate` (or start any prokopim service) first"
        )
    return conn


async def open_bus(nats_url: str) -> NatsClient:
    """Connect to NATS once (no reconnect loop, no tracebacks), or raise Unavailable."""
    where = f"NATS_URL {masked(nats_url)}"
    errors: list[Exception] = []

    async def keep(error: Exception) -> None:
        errors.append(error)  # nats-py would log each attempt with a traceback

    try:
        # nats-py tries a server max_reconnect_attempts + 1 times before giving up on it
        # (0 would mean: forever); wait_for bounds it whatever it does.
        return await asyncio.wait_for(
            nats.connect(
                nats_url,
                error_cb=keep,
                connect_timeout=connect_timeout(),
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.5,
            ),
            connect_timeout() + 1,
        )
    except (OSError, TimeoutError, nats.errors.Error) as error:
        reason = errors[-1] if errors else error
        raise Unavailable(f"cannot reach NATS at {where}: {reason}") from None


def _one_line(error: BaseException) -> tuple[ExitCode, str] | None:
    """Classify an error a command let through: an exit code and the line to print."""
    if isinstance(error, Unavailable):
        return ExitCode.UNAVAILABLE, str(error)
    if isinstance(error, UsageError):
        return ExitCode.USAGE, str(error)
    if isinstance(error, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError):
        return ExitCode.UNAVAILABLE, (
            f"the database is not fully migrated ({error}): run `prokopim-migrate` with this"
            " release, then try again"
        )
    if isinstance(error, asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return ExitCode.UNAVAILABLE, f"lost the connection to PostgreSQL: {error}"
    if isinstance(error, nats.errors.Error):
        return ExitCode.UNAVAILABLE, f"NATS failed the request: {error!r} (check NATS_URL)"
    if isinstance(error, ConnectionError):
        return ExitCode.UNAVAILABLE, f"lost a connection: {error}"
    return None


def fail(code: ExitCode, message: str) -> typer.Exit:
    """Print `prokopim: <message>` on stderr and return the Exit to raise."""
    typer.echo(f"prokopim: {message}", err=True)
    return typer.Exit(int(code))


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; turn an unavailable store or bus into one line and exit 3."""
    try:
        return asyncio.run(coroutine)
    except Exception as error:
        known = _one_line(error)
        if known is None:
            raise
        raise fail(*known) from None


def operator_command(function: Callable[P, T]) -> Callable[P, T]:
    """Give a command the shared error handling (for synchronous bodies that do I/O)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            known = _one_line(error)
            if known is None:
                raise
            raise fail(*known) from None

    return wrapper
