"""The `prokopim` command: run the system, issue tokens, drive demo cases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
from pathlib import Path

import typer
from prokopim_devstack.bus import PASSWORDS_FILE, BusCredentials
from prokopim_devstack.infra import running_infra
from prokopim_sop import load_catalog

from . import dlq, stuck
from .consumers import consumers
from .dbroles import local_chain_key, prepare_database
from .errors import DEFAULT_DATABASE_URL, ExitCode, fail, run
from .localsinks import local_sinks
from .relayctl import relay_app
from .replay import replay
from .resources import app as resources_app
from .sla import case_sla, format_sla
from .system import DEFAULT_PORTS, SERVICES, start_system
from .trail import case_history, format_trail
from .users import app as users_app
from .users import ensure_demo_accounts
from .verify import verify

# The modules that need FastAPI, the ledger or httpx (issue_token, flows) are imported by
# the commands that use them: an operator's `prokopim dlq list` starts in a fraction of the
# time (imports were ~8 s on a busy 2-core machine, most of it FastAPI's).
app = typer.Typer(help="prokopim: SOPs of a leader protocol & communication office.")
app.command("replay")(replay)
app.command()(verify)
app.add_typer(relay_app, name="relay")
app.command()(consumers)
app.add_typer(dlq.app, name="dlq")
app.add_typer(stuck.app, name="cases")
app.add_typer(resources_app, name="resources")
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
    from prokopim_kit.auth import issue_token

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
    namespace = os.environ.get("PROKOPIM_NAMESPACE", "")
    async with running_infra(
        data_dir, os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL"), namespace=namespace
    ) as infra:
        if infra.bus is None and not (
            os.environ.get("NATS_USER") or os.environ.get("NATS_CREDS_FILE")
        ):
            typer.echo("warning: NATS_URL given without NATS_USER/NATS_CREDS_FILE", err=True)
        if infra.bus is not None:
            await infra.bus.provision(namespace)
        env = {
            "DATABASE_URL": infra.database_url,
            "NATS_URL": infra.bus.url if infra.bus else infra.nats_url,
            "JWT_SECRET": secret,
            "ARCHIVE_DIR": str(data_dir / "archive"),
            "PROKOPIM_CHAIN_KEY": local_chain_key(data_dir),
            "LEDGER_SEAL_EXPORT_FILE": str(data_dir / "seal-heads.jsonl"),
        }
        own_env = await prepare_database(infra.database_url, data_dir)
        with contextlib.ExitStack() as sinks:
            if not os.environ.get("WEBSITE_URL"):
                env.update(sinks.enter_context(local_sinks(data_dir)))
                typer.echo(f"website and mail stand-ins write under {data_dir}")
            await _serve(env, data_dir, secret, demo, exit_after_demo, own_env, infra.bus)


async def _serve(
    env: dict[str, str],
    data_dir: Path,
    secret: str,
    demo: bool,
    exit_after_demo: bool,
    own_env: dict[str, dict[str, str]],
    bus: BusCredentials | None,
) -> None:
    system = await asyncio.to_thread(
        start_system, env, data_dir / "logs", process_env=own_env, bus=bus
    )
    try:
        for line in service_lines(system.urls):
            typer.echo(line)
        await _console_accounts(system.urls["console"], env["DATABASE_URL"])
        typer.echo(f"database    {env['DATABASE_URL']}\nnats        {env['NATS_URL']}")
        if bus is not None:
            typer.echo(f"            closed bus: users' passwords in {data_dir / PASSWORDS_FILE}")
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


def service_lines(urls: dict[str, str]) -> list[str]:
    """Return a line per service with its URL and OpenAPI page (the console's comes below:
    it is a web site for people and serves no OpenAPI document)."""
    return [
        f"{name:<11} {urls[name]}  (OpenAPI: {urls[name]}/docs)"
        for name in SERVICES
        if name != "console"
    ]


async def _console_accounts(url: str, database_url: str) -> None:
    """Create one demo account per SOP role and say how to sign in."""
    typer.echo(f"\nconsole     {url}  - sign in as one of (user / password / role):")
    for name, password, role_name in await ensure_demo_accounts(database_url):
        typer.echo(f"  {name:<30} {password:<36} {role_name}")
    typer.echo("  more accounts: prokopim users add NAME --role ROLE\n")


async def _demo(city: str, urls: dict[str, str], secret: str, database_url: str) -> None:
    from prokopim_kit.auth import issue_token

    from .flows import Driver, run_case

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
    database_url: str = typer.Option(DEFAULT_DATABASE_URL, envvar="DATABASE_URL"),
    as_json: bool = typer.Option(False, "--json", help="the events as CloudEvents JSON"),
) -> None:
    """Print a case's step-by-step trail from the event store (exit 2: no such case)."""
    events = run(case_history(database_url, case_id))
    if not events:
        raise fail(ExitCode.USAGE, f"no events about case {case_id} in the store")
    if as_json:
        typer.echo(json.dumps([event.to_cloudevent() for event in events], default=str))
    else:
        typer.echo(format_trail(events))
