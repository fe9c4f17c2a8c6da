"""message-db (the PostgreSQL message store behind Eventide) as a benchmark peer.

Its SQL comes from the npm registry (`@eventide/message-db`), installed once under
`.data/bench/` (a setting: MESSAGE_DB_DIR) and run into a scratch database in the order
its own `install.sh` runs it, through asyncpg rather than psql so that a bare machine
needs no PostgreSQL client. Writes go through its `write_message` function (a per-category
advisory lock, then the stream version check), reads through `get_category_messages`,
with every message's data and metadata JSON parsed, as a consumer would.

The workload is the one `store.py` gives prokopim: the same writers, batch size, body and
page size, and the same asyncpg client, so the figures compare the two server-side designs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import asyncpg
import orjson

PACKAGE = "@eventide/message-db"
VERSION = "1.3.1"  # its database/VERSION.txt says 1.3.0
CATEGORY = "bench"
ROOT = Path(__file__).resolve().parent.parent
INSTALL_DIR = Path(os.environ.get("MESSAGE_DB_DIR", ROOT / ".data" / "bench" / "message-db"))

# The order of install.sh, install-functions.sh and install-indexes.sh; views and
# privileges (roles for its own users) play no part in the workload.
_SCRIPTS = (
    "schema/message-store.sql",
    "extensions/pgcrypto.sql",
    "tables/messages.sql",
    "types/message.sql",
    "functions/message-store-version.sql",
    "functions/hash-64.sql",
    "functions/acquire-lock.sql",
    "functions/category.sql",
    "functions/is-category.sql",
    "functions/id.sql",
    "functions/cardinal-id.sql",
    "functions/stream-version.sql",
    "functions/write-message.sql",
    "functions/get-stream-messages.sql",
    "functions/get-category-messages.sql",
    "functions/get-last-stream-message.sql",
    "indexes/messages-id.sql",
    "indexes/messages-stream.sql",
    "indexes/messages-category.sql",
)
_WRITE = "SELECT message_store.write_message($1, $2, $3, $4::text::jsonb, NULL, $5)"
_READ = "SELECT * FROM message_store.get_category_messages($1, $2, $3)"
_SETTINGS = {"search_path": "message_store,public"}


def database_dir() -> Path:
    """Return message-db's `database/` folder, installing the npm package when missing."""
    folder = INSTALL_DIR / "node_modules" / "@eventide" / "message-db" / "database"
    if not folder.is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("message-db peer: npm is needed to fetch @eventide/message-db")
        INSTALL_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--silent", "--no-audit", "--no-fund", f"{PACKAGE}@{VERSION}"],
            cwd=INSTALL_DIR,
            check=True,
        )
    return folder


async def install(database_url: str) -> None:
    """Run message-db's SQL into the (empty) database at `database_url`."""
    folder = database_dir()
    conn = await asyncpg.connect(database_url, server_settings=_SETTINGS)
    try:
        for script in _SCRIPTS:
            await conn.execute((folder / script).read_text())
    finally:
        await conn.close()


class MessageDb:
    """A pool of WRITERS connections to a message-db database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, database_url: str, writers: int) -> MessageDb:
        pool = await asyncpg.create_pool(
            database_url, min_size=writers, max_size=writers, server_settings=_SETTINGS
        )
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    async def write(self, stream: str, expected_version: int, data: dict[str, Any]) -> None:
        """One message, one autocommit call of write_message (how Eventide writes one)."""
        async with self.pool.acquire() as conn:
            await conn.execute(
                _WRITE, str(uuid.uuid4()), stream, "ThingHappened", _json(data), expected_version
            )

    async def write_batch(self, stream: str, bodies: Iterable[dict[str, Any]]) -> None:
        """Messages of one new stream in one transaction (how Eventide writes a batch)."""
        rows = [
            (str(uuid.uuid4()), stream, "ThingHappened", _json(data), version - 1)
            for version, data in enumerate(bodies)
        ]
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(_WRITE, rows)

    async def replay(self, page_size: int) -> tuple[int, float]:
        """Read the category in global order, parsing each message; return count and /s."""
        count, position = 0, 1
        started = time.perf_counter()
        async with self.pool.acquire() as conn:
            while rows := await conn.fetch(_READ, CATEGORY, position, page_size):
                messages = [
                    {
                        "id": row["id"],
                        "stream_name": row["stream_name"],
                        "type": row["type"],
                        "position": row["position"],
                        "global_position": row["global_position"],
                        "data": orjson.loads(row["data"]),
                        "metadata": orjson.loads(row["metadata"]) if row["metadata"] else None,
                        "time": row["time"],
                    }
                    for row in rows
                ]
                count += len(messages)
                position = messages[-1]["global_position"] + 1
        return count, round(count / (time.perf_counter() - started), 1)


def stream_name(label: str) -> str:
    """A stream of the one benchmark category (message-db locks writes per category)."""
    return f"{CATEGORY}-{label}"


def _json(data: dict[str, Any]) -> str:
    return orjson.dumps(data).decode()
