"""The first connection of a process to NATS: bounded, and named when it fails."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


class NatsUnreachable(RuntimeError):
    """No NATS server answered at start-up within the allowed time."""


def reconnect_options(reconnect_wait: float = 2.0, ping_interval: float = 20.0) -> dict[str, Any]:
    """Connect options that keep a client reconnecting for as long as NATS is away.

    nats-py gives up after 60 attempts (about two minutes) and closes the connection for
    good; every prokopim process must instead survive an outage of any length, waiting
    `reconnect_wait` seconds between attempts. Pings every `ping_interval` seconds find a
    server that stopped answering without closing the socket (nats-py's default: 120 s).
    """
    return {
        "error_cb": _log_error,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": reconnect_wait,
        "ping_interval": ping_interval,
        "max_outstanding_pings": 3,
    }


async def connect_nats(
    url: str, give_up_after: float, *, reconnect_wait: float = 2.0, ping_interval: float = 20.0
) -> Client:
    """Connect to NATS, or raise NatsUnreachable naming NATS_URL after `give_up_after` seconds.

    nats-py alone keeps trying for about two minutes (60 attempts, 2 s apart) before it
    gives up; a process that cannot start should say why soon, so that an orchestrator
    restarts it and an operator sees the setting to check. Once connected, the client
    reconnects on its own, without limit (`reconnect_options`).
    """
    where = f"NATS_URL {_without_password(url)}"
    try:
        return await asyncio.wait_for(
            nats.connect(url, **reconnect_options(reconnect_wait, ping_interval)), give_up_after
        )
    except TimeoutError:
        raise NatsUnreachable(
            f"{where}: no NATS server answered within {give_up_after:g} s"
            " (NATS_CONNECT_TIMEOUT_SECONDS)"
        ) from None
    except (OSError, nats.errors.Error) as error:
        raise NatsUnreachable(f"{where}: {error!r}") from error


async def _log_error(error: Exception) -> None:
    """Log a connection error in one line (nats-py's default prints a traceback for each
    failed reconnect attempt)."""
    log.warning("NATS: %s", error if str(error) else repr(error))


def _without_password(url: str) -> str:
    """The URL with its secret masked: a password, or a token given as the user name."""
    parts = urlsplit(url)
    user, at, where = parts.netloc.rpartition("@")
    if not at:
        return url
    name, colon, _ = user.partition(":")
    shown = f"{name}:***" if colon else "***"
    return parts._replace(netloc=f"{shown}@{where}").geturl()
