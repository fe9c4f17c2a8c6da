"""Which failures are worth waiting out, and which no retry can fix.

A database or bus that is away, a pool with no free connection, a timeout, a serialization
failure or a deadlock all pass: the same work succeeds later. Consumers retry those without
limit and never dead-letter them; the HTTP services answer 503 with Retry-After. Anything
else (a bug, bad data, an event this build cannot handle) will fail the same way again.
"""

from __future__ import annotations

import errno
import random
from enum import StrEnum

import asyncpg
import nats.errors

# Unavailability: the database or NATS cannot be reached or refuses work right now.
_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, unreachable (ConnectionError is an OSError)
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.InsufficientResourcesError,  # class 53: too many connections, disk full
    asyncpg.CannotConnectNowError,  # 57P03: starting up, in recovery
    asyncpg.AdminShutdownError,  # 57P01: the server is shutting down
    asyncpg.InterfaceError,  # the connection closed under us, the pool is closing
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoRespondersError,
)
# Contention: the same transaction succeeds when run again.
_CONTENTION: tuple[type[Exception], ...] = (
    asyncpg.TransactionRollbackError,  # class 40: serialization failure, deadlock
    asyncpg.LockNotAvailableError,  # 55P03: lock_timeout
)
# Time: a statement, a lock, a pool acquire or a request took too long.
_TIMEOUT: tuple[type[Exception], ...] = (
    TimeoutError,  # asyncio's too, and nats.errors.TimeoutError
    asyncpg.QueryCanceledError,  # 57014: statement_timeout
)


# Every class a transient failure may have (an OSError still has to be a connection's).
TRANSIENT_TYPES = (*_UNAVAILABLE, *_CONTENTION, *_TIMEOUT)

_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ENETDOWN,
    errno.EPIPE,
    errno.ETIMEDOUT,
}


def _connection_failed(error: OSError) -> bool:
    """Tell an OSError of a connection (refused, reset...) from a file or other one."""
    if isinstance(error, ConnectionError) or error.errno in _CONNECTION_ERRNOS:
        return True
    # asyncpg trying several addresses raises a bare OSError("Multiple exceptions: ...")
    return error.errno is None and "Connect call failed" in str(error)


class Failure(StrEnum):
    """How a failure is handled: waited out (the first three) or given up on."""

    UNAVAILABLE = "unavailable"
    CONTENTION = "contention"
    TIMEOUT = "timeout"
    PERMANENT = "permanent"

    @property
    def transient(self) -> bool:
        return self is not Failure.PERMANENT


def classify(error: BaseException) -> Failure:
    """Return the kind of `error`, looking into its cause and exception groups."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, _TIMEOUT):
            return Failure.TIMEOUT
        if isinstance(current, _CONTENTION):
            return Failure.CONTENTION
        if isinstance(current, _UNAVAILABLE) and (
            not isinstance(current, OSError) or _connection_failed(current)
        ):
            return Failure.UNAVAILABLE
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return Failure.PERMANENT


def backoff(attempt: int, base: float, cap: float) -> float:
    """Return a capped exponential delay with full jitter before retry `attempt` (1-based)."""
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 30))
    return random.uniform(ceiling / 2, ceiling)  # jitter, not a secret
