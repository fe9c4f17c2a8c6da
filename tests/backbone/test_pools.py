"""The pools' release: a service's pool skips asyncpg's reset round trip."""

from __future__ import annotations

import pytest
from prokopim_events.db import create_pool

pytestmark = pytest.mark.integration


async def test_a_pool_keeping_sessions_releases_without_the_reset_query(
    database_url: str,
) -> None:
    for keep, expected in ((True, "kept"), (False, "")):
        pool = await create_pool(database_url, max_size=1, keep_session=keep)
        try:
            async with pool.acquire() as conn:
                await conn.execute("SET application_name = 'kept'")
            async with pool.acquire() as conn:  # the same connection: max_size 1
                assert await conn.fetchval("SHOW application_name") == expected
        finally:
            await pool.close()
