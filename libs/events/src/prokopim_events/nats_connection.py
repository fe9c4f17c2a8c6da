"""The first connection of a process to NATS: bounded, named when it fails, authenticated.

Each process connects as its own NATS user (docs/security.md): a password, or a `.creds`
file, from the settings; TLS when the URL says `tls://` or a CA/certificate is given; and
replies on the inbox prefix its permissions allow (`_INBOX_<user>`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import nats
from faststream.nats.security import NatsCredentials, NatsSecurity, NatsUserPassword
from nats.aio.client import Client

from .bus_auth import inbox_prefix
from .settings import BackboneSettings

log = logging.getLogger(__name__)


class NatsUnreachable(RuntimeError):
    """No NATS server answered at start-up within the allowed time."""


def _tls(settings: BackboneSettings) -> ssl.SSLContext | None:
    wanted = settings.nats_url.startswith("tls://") or any(
        (settings.nats_tls_ca_file, settings.nats_tls_cert_file)
    )
    if not wanted:
        return None
    context = ssl.create_default_context(
        cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None
    )
    if settings.nats_tls_cert_file:
        context.load_cert_chain(
            str(settings.nats_tls_cert_file),
            str(settings.nats_tls_key_file) if settings.nats_tls_key_file else None,
        )
    return context


def inbox_of(settings: BackboneSettings) -> str:
    """The reply inbox prefix of this process: NATS_INBOX_PREFIX, or `_INBOX_<user>`."""
    if settings.nats_inbox_prefix:
        return settings.nats_inbox_prefix
    return inbox_prefix(settings.nats_user) if settings.nats_user else "_INBOX"


def nats_options(settings: BackboneSettings) -> dict[str, Any]:
    """Keyword arguments of `nats.connect` for this process's identity and TLS."""
    options: dict[str, Any] = {"inbox_prefix": inbox_of(settings)}
    if settings.nats_user:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_creds_file:
        options["user_credentials"] = str(settings.nats_creds_file)
    tls = _tls(settings)
    if tls is not None:
        options["tls"] = tls
    return options


def broker_options(settings: BackboneSettings) -> dict[str, Any]:
    """Keyword arguments of FastStream's `NatsBroker` for the same identity and TLS."""
    tls = _tls(settings)
    security: NatsSecurity | None = None
    if settings.nats_user:
        password = settings.nats_password.get_secret_value()
        security = NatsUserPassword(username=settings.nats_user, password=password, ssl_context=tls)
    elif settings.nats_creds_file:
        security = NatsCredentials(credentials=str(settings.nats_creds_file), ssl_context=tls)
    elif tls is not None:
        security = NatsSecurity(ssl_context=tls)
    return {"inbox_prefix": inbox_of(settings), "security": security}


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
    url: str,
    give_up_after: float,
    options: Mapping[str, Any] | None = None,
    *,
    reconnect_wait: float = 2.0,
    ping_interval: float = 20.0,
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
            nats.connect(
                url, **reconnect_options(reconnect_wait, ping_interval), **(options or {})
            ),
            give_up_after,
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
