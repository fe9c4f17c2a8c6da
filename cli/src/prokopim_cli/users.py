"""`prokopim users`: the console's local accounts (argon2id hashes in console_users)."""

from __future__ import annotations

import asyncio
import getpass

import asyncpg
import typer
from prokopim_console.accounts import User, add_user, console_migrations, list_users
from prokopim_events.migrations import migrate
from prokopim_sop import load_catalog

app = typer.Typer(help="Console accounts: who may sign in, in which SOP role.")
DATABASE_URL = typer.Option("postgresql://postgres@127.0.0.1:5432/postgres", envvar="DATABASE_URL")
# One demo account per SOP role; its password is shown by `prokopim up`.
DEMO_PASSWORD_SUFFIX = "-demo"


def known_roles() -> dict[str, str]:
    """Return every role of the installed SOPs: id -> name."""
    return {role.id: role.name for sop in load_catalog() for role in sop.roles}


async def _connect(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    await migrate(conn, console_migrations())
    return conn


@app.command("add")
def add(
    name: str = typer.Argument(..., help="the sign-in name"),
    role: str = typer.Option(..., help="SOP role id, e.g. ka-bagian"),
    display_name: str | None = typer.Option(None, help="the name others see"),
    password: str | None = typer.Option(
        None, help="prompted for when omitted (keeps it out of the shell history)"
    ),
    replace: bool = typer.Option(False, help="change an existing account"),
    database_url: str = DATABASE_URL,
) -> None:
    """Create a console account in an SOP role."""
    roles = known_roles()
    if role not in roles:
        raise typer.BadParameter(f"unknown role; choose one of {', '.join(sorted(roles))}")
    if password is None:
        password = getpass.getpass(f"password for {name}: ")
    try:
        user = asyncio.run(_add(database_url, name, role, password, display_name, replace))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    typer.echo(f"{user.name} may sign in as {user.role} ({roles[role]})")


async def _add(
    database_url: str,
    name: str,
    role: str,
    password: str,
    display_name: str | None,
    replace: bool,
) -> User:
    conn = await _connect(database_url)
    try:
        return await add_user(
            conn, name, role, password, display_name=display_name, replace=replace
        )
    finally:
        await conn.close()


@app.command("list")
def list_command(database_url: str = DATABASE_URL) -> None:
    """List the console's active accounts."""

    async def run() -> list[User]:
        conn = await _connect(database_url)
        try:
            return await list_users(conn)
        finally:
            await conn.close()

    for user in asyncio.run(run()):
        typer.echo(f"{user.name:<32} {user.role:<30} {user.display_name}")


async def ensure_demo_accounts(database_url: str) -> list[tuple[str, str, str]]:
    """Create (or reset) one demo account per SOP role; return (name, password, role) rows."""
    conn = await _connect(database_url)
    rows = []
    try:
        for role, role_name in sorted(known_roles().items()):
            password = f"{role}{DEMO_PASSWORD_SUFFIX}"
            await add_user(conn, role, role, password, display_name=role_name, replace=True)
            rows.append((role, password, role_name))
    finally:
        await conn.close()
    return rows
