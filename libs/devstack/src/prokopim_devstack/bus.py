"""The embedded nats-server's users: random passwords kept per data directory, a config file.

`prokopim up` and the test fixtures never run an open bus: the embedded nats-server starts
with the configuration of :mod:`prokopim_events.bus_auth` (one user per kind of process),
and each process it starts gets its own user's credentials. The passwords are generated once
per data directory and kept in ``<data_dir>/nats-passwords.json`` (mode 0600); the
configuration, rewritten at each start, in ``<data_dir>/nats.conf`` (mode 0600).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import nats
from prokopim_events.bus_auth import USERS, Scope, render_config, standard_users
from prokopim_events.provisioning import provision_bus
from prokopim_events.topology import Topology

PASSWORDS_FILE = "nats-passwords.json"
CONFIG_FILE = "nats.conf"


def new_password() -> str:
    """A random password nats-server reads as a plain string wherever it is written."""
    # A letter first and hex after: nothing a config parser could read as a number or syntax.
    return "k" + secrets.token_hex(24)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    path.chmod(0o600)  # also when the file existed with a wider mode


def passwords_of(data_dir: Path) -> dict[str, str]:
    """The users' passwords of this data directory, generated on first use."""
    path = data_dir / PASSWORDS_FILE
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [user for user in USERS if user not in known]
    if missing:
        known.update({user: new_password() for user in missing})
        _write_private(path, json.dumps(known, indent=2) + "\n")
    return known


def write_config(
    data_dir: Path,
    passwords: dict[str, str],
    *,
    port: int,
    monitor_port: int,
    store_dir: Path,
    namespace: str | None,
    host: str = "127.0.0.1",
) -> Path:
    """Write the embedded server's configuration; `namespace` None: any namespace (tests)."""
    scope = Scope.any() if namespace is None else Scope.of(namespace)
    text = render_config(
        standard_users(scope, passwords),
        listen=f"{host}:{port}",
        monitor=f"{host}:{monitor_port}",
        store_dir=str(store_dir),
    )
    path = data_dir / CONFIG_FILE
    _write_private(path, text)
    return path


@dataclass(frozen=True)
class BusCredentials:
    """Where the embedded bus listens and each user's password."""

    url: str
    passwords: dict[str, str]

    def user_url(self, user: str) -> str:
        """The server URL with `user`'s credentials in it (for tools and tests)."""
        parts = urlsplit(self.url)
        return parts._replace(netloc=f"{user}:{self.passwords[user]}@{parts.netloc}").geturl()

    def env(self, user: str) -> dict[str, str]:
        """The settings a prokopim process needs to connect as `user`."""
        return {"NATS_URL": self.url, "NATS_USER": user, "NATS_PASSWORD": self.passwords[user]}

    async def provision(self, namespace: str) -> None:
        """As the operator, create the streams and durables the relay would create.

        Done before the processes start, so that no service waits for the relay to come up.
        """
        nc = await nats.connect(self.user_url("operator"))
        try:
            await provision_bus(nc.jetstream(), Topology(namespace=namespace))
        finally:
            await nc.close()
