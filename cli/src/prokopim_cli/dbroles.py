"""The least-privilege database roles and the chain key of a local `prokopim up`.

`prokopim up` connects to PostgreSQL as a superuser (the embedded server's `postgres`, or
DATABASE_URL), provisions the roles of `prokopim_events.roles` with passwords generated
once per data directory, migrates as the owner, and starts each process with its own
role's DSN: the same roles compose and the tests use. The chain key is generated once per
data directory too, unless PROKOPIM_CHAIN_KEY is set.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from prokopim_events.db import connect
from prokopim_events.migrations import installed_migrations
from prokopim_events.roles import PROCESSES, DatabaseRoles, migrate_as_owner

ROLE_PREFIX_ENV = "PROKOPIM_DB_ROLE_PREFIX"
PASSWORDS_FILE = "db-passwords.json"


def _private_file(path: Path, make: str) -> str:
    """Return the file's content, writing `make` to it (mode 0600) the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make)
    return path.read_text().strip()


def local_roles(data_dir: Path) -> DatabaseRoles:
    """Return the roles of this data directory (passwords made once, kept in it).

    A data directory made before a process had a role of its own (the console's) gets that
    role's password added; the others' stay.
    """
    path = data_dir / PASSWORDS_FILE
    made = json.dumps({p: secrets.token_urlsafe(24) for p in PROCESSES})
    passwords: dict[str, str] = json.loads(_private_file(path, made))
    missing = [p for p in PROCESSES if not passwords.get(p)]
    if missing:
        passwords |= {p: secrets.token_urlsafe(24) for p in missing}
        _replace_private_file(path, json.dumps(passwords))
    return DatabaseRoles(os.environ.get(ROLE_PREFIX_ENV, "prokopim"), passwords)


def _replace_private_file(path: Path, content: str) -> None:
    """Write `content` to a new file (mode 0600) beside `path`, then put it in its place."""
    new = path.with_name(path.name + ".new")
    new.unlink(missing_ok=True)
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(content)
    os.replace(new, path)


def local_chain_key(data_dir: Path) -> str:
    """Return PROKOPIM_CHAIN_KEY, or one generated once and kept in the data directory."""
    return os.environ.get("PROKOPIM_CHAIN_KEY") or _private_file(
        data_dir / "chain-key", secrets.token_urlsafe(48)
    )


async def prepare_database(admin_url: str, data_dir: Path) -> dict[str, dict[str, str]]:
    """Provision the roles, migrate as the owner; return each process's own environment."""
    roles = local_roles(data_dir)
    conn = await connect(admin_url)
    try:
        await migrate_as_owner(conn, roles, installed_migrations())
    finally:
        await conn.close()
    return {p: {"DATABASE_URL": roles.url(admin_url, p)} for p in PROCESSES}
