"""Start the whole system as separate processes: the relay and the five services.

Used by `prokopim up` and by the end-to-end tests, so both run exactly the same thing.
On the embedded (closed) bus each process connects as its own NATS user: the relay as
`relay`, each service as itself (docs/security.md).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prokopim_devstack.bus import BusCredentials

SERVICES = ("intake", "scheduling", "production", "review", "publishing", "ledger", "console")
DEFAULT_PORTS = {name: 8001 + i for i, name in enumerate(SERVICES)}


@dataclass
class RunningSystem:
    """The processes of one running prokopim, and where each service listens."""

    urls: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every process, then SIGKILL what has not exited within `timeout`."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, name: str, lines: int = 40) -> str:
        """Return the end of a process's log, for error messages."""
        path = self.logs.get(name)
        if path is None or not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _executable(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def start_process(
    system: RunningSystem, name: str, command: list[str], env: dict[str, str], log_dir: Path
) -> None:
    """Start one process of the system with its output in `log_dir/<name>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log_file:
        system.processes[name] = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    system.logs[name] = log_path


def start_system(
    env: dict[str, str],
    log_dir: Path,
    *,
    ports: dict[str, int] | None = None,
    host: str = "127.0.0.1",
    ready_within: float = 120.0,  # eight processes importing at once on a busy 2-core machine
    process_env: Mapping[str, Mapping[str, str]] | None = None,
    bus: BusCredentials | None = None,
) -> RunningSystem:
    """Start the relay and every service; return once all answer /readyz.

    `process_env` adds variables for one process only (by name: relay, intake, ...), such
    as the DATABASE_URL of its own database role. With `bus`, each process gets its own
    NATS user's credentials (over any in `env`).
    """
    ports = ports or DEFAULT_PORTS
    own = process_env or {}
    system = RunningSystem(urls={name: f"http://{host}:{ports[name]}" for name in SERVICES})
    base_env = {**os.environ, **env}

    def identity(user: str) -> dict[str, str]:
        if bus is None or user not in bus.passwords:
            return {}
        env = bus.env(user)
        if user == "console":  # its live updates' read-only NATS user
            return {f"CONSOLE_{key}": value for key, value in env.items()}
        return env

    # where each service is (the console calls them all: INTAKE_URL, ..., LEDGER_URL)
    service_urls = {f"{name.upper()}_URL": url for name, url in system.urls.items()}
    # the requester's status page (scheduling's /status) as the mails link it
    service_urls["STATUS_PAGE_URL"] = base_env.get("STATUS_PAGE_URL", system.urls["scheduling"])
    try:
        relay_env = {**base_env, **own.get("relay", {}), **identity("relay")}
        start_process(system, "relay", [_executable("prokopim-relay")], relay_env, log_dir)
        for name in SERVICES:
            service_env = {
                **base_env,
                **own.get(name, {}),
                **identity(name),
                "PORT": str(ports[name]),
                "HOST": host,
                **service_urls,
            }
            start_process(system, name, [_executable(f"prokopim-{name}")], service_env, log_dir)
        wait_ready(system, ready_within)
    except BaseException:
        system.stop()
        raise
    return system


def wait_ready(system: RunningSystem, within: float) -> None:
    """Wait until every service answers /readyz with 200, or raise naming the laggard;
    raise naming any process (the relay too, which has no /readyz) that exited meanwhile."""
    deadline = time.monotonic() + within
    pending = dict(system.urls)
    while pending:
        for name, process in system.processes.items():
            # a service not yet ready, or a process with no /readyz (the relay)
            if (name in pending or name not in system.urls) and process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited ({process.returncode}):\n{system.log_tail(name)}"
                )
        for name, url in list(pending.items()):
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            name = next(iter(pending))
            raise TimeoutError(f"{name} not ready after {within}s:\n{system.log_tail(name)}")
        if pending:
            time.sleep(0.2)
