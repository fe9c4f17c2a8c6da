"""The `prokopim` command: run the system, issue tokens, drive demo cases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from pathlib import Path

import typer
from prokopim_kit.auth import issue_token
from prokopim_sop import load_catalog

from .flows import Driver, run_case
from .infra import running_infra
from .localsinks import local_sinks
from .replay import replay
from .sla import case_sla, format_sla
from .system import DEFAULT_PORTS, SERVICES, start_system
from .trail import case_history, format_trail
from .users import app as users_app
from .users import ensure_demo_accounts
from .verify import verify

app = typer.Typer(help="prokopim: SOPs of a leader protocol & communication office.")
app.command("replay")(replay)
app.command()(verify)
app.add_typer(users_app, name="users")

DEMO_SOPS = {"bandung": "bdg-setda-010-2024", "tangerang": "tgr-58-2025"}
DEMO_REJECTIONS = {"bandung": {8: 1}, "tangerang": {5: 1, 6: 1}}


def _secret(data_dir: Path) -> str:
    """Return JWT_SECRET, or a local one generated once and kept in the data directory."""
    if os.environ.get("JWT_SECRET"):
        return os.environ["JWT_SECRET"]
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


@app.command()
def token(
    role: str = typer.Option(..., help="SOP role id, e.g. ka-bagian"),
    subject: str = typer.Option("demo-user", help="who acts (the token's sub)"),
    name: str | None = typer.Option(None),
    data_dir: Path = typer.Option(Path(".data"), help="where the local secret is kept"),
) -> None:
    """Print a bearer token for local demos and tests."""
    typer.echo(issue_token(_secret(data_dir), subject=subject, role=role, name=name))


@app.command()
def up(
    demo: bool = typer.Option(False, help="run both demo cases once the system is up"),
    exit_after_demo: bool = typer.Option(False, help="stop after the demo (for scripts)"),
    data_dir: Path = typer.Option(Path(".data"), help="embedded servers' data and logs"),
) -> None:
    """Start PostgreSQL and NATS (embedded if none configured), the relay and every service."""
    asyncio.run(_up(demo, exit_after_demo, data_dir.resolve()))


async def _up(demo: bool, exit_after_demo: bool, data_dir: Path) -> None:
    secret = _secret(data_dir)
    async with running_infra(
        data_dir, os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    ) as infra:
        env = {
            "DATABASE_URL": infra.database_url,
            "NATS_URL": infra.nats_url,
            "JWT_SECRET": secret,
            "ARCHIVE_DIR": str(data_dir / "archive"),
        }
        with contextlib.ExitStack() as sinks:
            if not os.environ.get("WEBSITE_URL"):
                env.update(sinks.enter_context(local_sinks(data_dir)))
                typer.echo(f"website and mail stand-ins write under {data_dir}")
            await _serve(env, data_dir, secret, demo, exit_after_demo)


async def _serve(
    env: dict[str, str], data_dir: Path, secret: str, demo: bool, exit_after_demo: bool
) -> None:
    system = await asyncio.to_thread(start_system, env, data_dir / "logs")
    try:
        for name in SERVICES:
            typer.echo(f"{name:<11} {system.urls[name]}  (OpenAPI: {system.urls[name]}/docs)")
        await _console_accounts(system.urls["console"], env["DATABASE_URL"])
        typer.echo(f"database    {env['DATABASE_URL']}\nnats        {env['NATS_URL']}")
        if demo:
            for city in DEMO_SOPS:
                await _demo(city, system.urls, secret, env["DATABASE_URL"])
        if not exit_after_demo:
            typer.echo("prokopim is up; Ctrl-C stops it.")
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
    finally:
        await asyncio.to_thread(system.stop)


async def _console_accounts(url: str, database_url: str) -> None:
    """Create one demo account per SOP role and say how to sign in."""
    typer.echo(f"\nconsole     {url}  - sign in as one of (user / password / role):")
    for name, password, role_name in await ensure_demo_accounts(database_url):
        typer.echo(f"  {name:<30} {password:<36} {role_name}")
    typer.echo("  more accounts: prokopim users add NAME --role ROLE\n")


async def _demo(city: str, urls: dict[str, str], secret: str, database_url: str) -> None:
    sop = load_catalog().get(DEMO_SOPS[city])
    driver = Driver(urls, secret)
    try:
        run = await run_case(driver, sop, reject=DEMO_REJECTIONS[city])
    finally:
        await driver.close()
    typer.echo(f"\n== {sop.title.en} ({sop.id} v{sop.version}) case {run.case_id}")
    typer.echo(format_trail(await case_history(database_url, run.case_id)))
    token = issue_token(secret, subject="demo-auditor", role=sop.steps[0].role)
    typer.echo("\nAgainst the SOP's standard times (working time, Asia/Jakarta):")
    typer.echo(format_sla(await case_sla(urls["ledger"], run.case_id, token)))


@app.command("demo")
def demo_command(
    city: str = typer.Argument(..., help="bandung or tangerang"),
    database_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres", envvar="DATABASE_URL"
    ),
    data_dir: Path = typer.Option(Path(".data")),
) -> None:
    """Run one full case (with rejections) against a running system and print its trail."""
    if city not in DEMO_SOPS:
        raise typer.BadParameter(f"choose one of {', '.join(DEMO_SOPS)}", param_hint="city")
    urls = {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}
    asyncio.run(_demo(city, urls, _secret(data_dir), database_url))


@app.command()
def trail(
    case_id: str,
    database_url: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/postgres", envvar="DATABASE_URL"
    ),
) -> None:
    """Print a case's step-by-step trail from the event store."""
    typer.echo(format_trail(asyncio.run(case_history(database_url, case_id))))
