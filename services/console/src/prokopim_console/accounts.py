"""Local accounts: a name, an SOP role and an argon2id password hash, in console_users."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from prokopim_events.db import Connection

from .schema import console_migrations as console_migrations  # where callers found it

_hasher = PasswordHasher()  # argon2id, the library's (OWASP-conforming) defaults
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class User:
    """Who is signed in: their account name, SOP role and the name shown to others."""

    name: str
    role: str
    display_name: str


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password (refused when shorter than 8 characters)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


async def add_user(
    conn: Connection,
    name: str,
    role: str,
    password: str | None,
    *,
    display_name: str | None = None,
    replace: bool = False,
) -> User:
    """Create (or with `replace`, update) an account; raise ValueError if it exists."""
    digest = hash_password(password) if password is not None else None
    shown = display_name or name
    conflict = (
        "DO UPDATE SET role = EXCLUDED.role, display_name = EXCLUDED.display_name,"
        " password_hash = EXCLUDED.password_hash, active = true, updated_at = now()"
        if replace
        else "DO NOTHING"
    )
    row = await conn.fetchrow(
        "INSERT INTO console_users (name, role, display_name, password_hash)"
        f" VALUES ($1, $2, $3, $4) ON CONFLICT (name) {conflict} RETURNING name",
        name,
        role,
        shown,
        digest,
    )
    if row is None:
        raise ValueError(f"user {name!r} exists already (use --replace to change it)")
    return User(name, role, shown)


async def authenticate(conn: Connection, name: str, password: str) -> User | None:
    """Return the user if the password matches an active account, else None."""
    row = await conn.fetchrow(
        "SELECT name, role, display_name, password_hash FROM console_users"
        " WHERE name = $1 AND active",
        name,
    )
    digest = row["password_hash"] if row is not None and row["password_hash"] else _DUMMY_HASH
    try:
        _hasher.verify(digest, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row["password_hash"]:
        return None
    if _hasher.check_needs_rehash(digest):
        await conn.execute(
            "UPDATE console_users SET password_hash = $2 WHERE name = $1",
            name,
            _hasher.hash(password),
        )
    return User(row["name"], row["role"], row["display_name"])


async def list_users(conn: Connection) -> list[User]:
    """Return the active accounts, by name."""
    rows = await conn.fetch(
        "SELECT name, role, display_name FROM console_users WHERE active ORDER BY name"
    )
    return [User(r["name"], r["role"], r["display_name"]) for r in rows]


async def deactivate_user(conn: Connection, name: str) -> bool:
    """Stop an account from signing in; return whether it existed."""
    status = await conn.execute(
        "UPDATE console_users SET active = false, updated_at = now() WHERE name = $1", name
    )
    return status != "UPDATE 0"
