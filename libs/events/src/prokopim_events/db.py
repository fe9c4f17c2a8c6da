"""PostgreSQL connection pools with prokopim's codecs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# A connection as handed out by a pool or opened directly; handlers accept either.
# PoolConnectionProxy is generic only in asyncpg-stubs, not at runtime.
if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]
else:
    Connection = asyncpg.Connection | PoolConnectionProxy


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
        )


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, keep_session: bool = False
) -> asyncpg.Pool:
    """Open a pool whose json/jsonb values are Python objects (orjson both ways).

    With `keep_session` a released connection skips asyncpg's reset query (`RESET ALL`,
    `UNLISTEN *`, unlock advisory locks...): one round trip less per use, which for a
    consumer's delivery or a read is a good part of its database time. Only for code that
    leaves no session state behind (settings, LISTEN, session advisory locks): a service's
    handlers and queries use transaction-scoped locks and settings, and the one session
    lock (publishing's) closes its connection when it could not be released.
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session if keep_session else None,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection as is: asyncpg has already rolled back any open transaction
    and dropped its listeners, and its users set no other session state."""


async def create_store_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool that only an EventStore uses, released without asyncpg's reset query.

    asyncpg's default reset (`RESET ALL`, `UNLISTEN *`, unlock advisory locks...) is one
    more round trip per released connection: for a single-event append that is half the
    wire time. The store's own statements set no session state, so its private pool can
    skip it; never hand its connections to code that sets some (use `create_pool` there).
    """
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """Open a single connection with the same codecs as `create_pool`."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
