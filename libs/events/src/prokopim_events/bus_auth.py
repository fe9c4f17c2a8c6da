"""The NATS users of a prokopim installation and what each may do: a closed bus.

One user per kind of process, each allowed exactly what it needs (docs/security.md):

- ``operator``: administration, everything (streams, consumers, reading the bus).
- ``relay``: publishes the events (``<ns>.prokopim.>``, the only user that may), creates
  and updates the two streams, and creates the services' durables (see provisioning).
- one user per service (``intake`` … ``ledger``): pulls and acks its own durable
  ``prokopim-<service>`` and publishes its own dead letters; nothing else. Intake follows
  no events and may publish nothing.
- outside subscribers (read-only): pull and ack only the durables the operator grants
  them (by default one, named after the user; never a ``prokopim-`` name), read stream info.

Every user gets its own reply inbox prefix ``_INBOX_<user>`` (nats-py's ``inbox_prefix``),
so no user can subscribe to the replies another receives: a pulled batch is delivered to
the puller's inbox, so a shared ``_INBOX.>`` would let any user read every service's events.

NATS subject permissions match whole tokens, so a durable "prefix" cannot be expressed: a
subscriber's durables are listed by name. The configuration uses only what nats-server 2.9
and 2.14 both understand (``authorization { users = [...] }``, publish/subscribe allow and
deny lists, ``$VAR`` environment references for passwords).

``python -m prokopim_events.bus_auth`` prints the configuration compose mounts
(deploy/nats/nats.conf): passwords as ``$NATS_<USER>_PASSWORD`` references.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .topology import CONSUMERS, EVENT_ROOT, Topology

SERVICES = ("intake", "scheduling", "production", "review", "publishing", "ledger")
OPERATOR = "operator"
RELAY = "relay"
SUBSCRIBER = "subscriber"
CONSOLE = "console"
# Every user a standard installation has; each has a password (or an nkey) of its own.
USERS = (OPERATOR, RELAY, *SERVICES, CONSOLE, SUBSCRIBER)


@dataclass(frozen=True)
class Permissions:
    """Subjects a user may publish to and subscribe to (empty: nothing)."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """The stream names and subject prefix permissions are written for.

    ``Scope.any()`` matches every namespace (one token, ``*``): the test suite's own
    nats-server, where each test has a namespace of its own.
    """

    stream: str
    dead_letter_stream: str
    prefix: str

    @classmethod
    def of(cls, namespace: str) -> Scope:
        topology = Topology(namespace=namespace)
        prefix = f"{namespace}." if namespace else ""
        return cls(topology.stream, topology.dead_letter_stream, prefix)

    @classmethod
    def any(cls) -> Scope:
        return cls("*", "*", "*.")


def inbox_prefix(user: str) -> str:
    """Return the reply inbox prefix of a user, `_INBOX_<user>`."""
    return f"_INBOX_{user}"


def _replies(user: str) -> tuple[str, ...]:
    return (f"{inbox_prefix(user)}.>",)


def _pull_and_ack(stream: str, durable: str) -> list[str]:
    # Acks (and NAKs) are publishes to the message's reply subject, `$JS.ACK.<stream>.
    # <durable>.…`; newer servers may add domain and account-hash tokens in front.
    return [
        f"$JS.API.CONSUMER.INFO.{stream}.{durable}",
        f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
        f"$JS.ACK.*.*.{stream}.{durable}.>",
    ]


def operator_permissions() -> Permissions:
    """Administration: everything."""
    return Permissions(publish=(">",), subscribe=(">",))


def relay_permissions(scope: Scope) -> Permissions:
    """Publish events; create the streams and the services' durables."""
    durables = [Topology.durable(service) for service in CONSUMERS]
    publish = [f"{scope.prefix}{EVENT_ROOT}.>"]
    for stream in dict.fromkeys((scope.stream, scope.dead_letter_stream)):
        publish += [f"$JS.API.STREAM.{verb}.{stream}" for verb in ("INFO", "CREATE", "UPDATE")]
    for durable in durables:
        publish += [
            f"$JS.API.CONSUMER.INFO.{scope.stream}.{durable}",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{scope.stream}.{durable}",
        ]
    return Permissions(publish=tuple(publish), subscribe=_replies(RELAY))


def service_permissions(service: str, scope: Scope) -> Permissions:
    """Pull and ack its own durable; publish its own dead letters. Intake: nothing."""
    if service not in CONSUMERS:
        return Permissions(publish=(), subscribe=_replies(service))
    durable = Topology.durable(service)
    publish = [
        *_pull_and_ack(scope.stream, durable),
        f"{scope.prefix}deadletter.{EVENT_ROOT}.{durable}",
    ]
    return Permissions(publish=tuple(publish), subscribe=_replies(service))


def subscriber_permissions(user: str, scope: Scope, durables: Sequence[str] = ()) -> Permissions:
    """Read-only: create, pull, ack and delete only the durables granted (default: `user`)."""
    granted = list(durables) or [user]
    for durable in granted:
        if durable.startswith(f"{EVENT_ROOT}-") or not durable or "." in durable:
            raise ValueError(f"subscriber durable {durable!r}: prokopim-* names are reserved")
    publish = [f"$JS.API.STREAM.INFO.{scope.stream}"]
    for durable in granted:
        publish += _pull_and_ack(scope.stream, durable)
        publish += [
            # create: nats-py sends CREATE.<stream>.<name>[.<filter>] to 2.9+ servers
            f"$JS.API.CONSUMER.CREATE.{scope.stream}.{durable}",
            f"$JS.API.CONSUMER.CREATE.{scope.stream}.{durable}.>",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{scope.stream}.{durable}",
            f"$JS.API.CONSUMER.DELETE.{scope.stream}.{durable}",
        ]
    return Permissions(publish=tuple(publish), subscribe=_replies(user))


def console_permissions(scope: Scope) -> Permissions:
    """The web console's live updates: receive events as they are relayed, nothing else.

    A plain subscription (no consumer, nothing acked, nothing published): it can neither
    take a message from a durable nor move a case; it reads what the console shows anyway.
    """
    return Permissions(publish=(), subscribe=(f"{scope.prefix}{EVENT_ROOT}.>", *_replies(CONSOLE)))


def permissions_of(user: str, scope: Scope) -> Permissions:
    """The permissions of one of the standard USERS."""
    if user == OPERATOR:
        return operator_permissions()
    if user == RELAY:
        return relay_permissions(scope)
    if user in SERVICES:
        return service_permissions(user, scope)
    if user == CONSOLE:
        return console_permissions(scope)
    return subscriber_permissions(user, scope)


def password_variable(user: str) -> str:
    """The environment variable holding a user's password in compose: NATS_<USER>_PASSWORD."""
    return f"NATS_{user.upper().replace('-', '_')}_PASSWORD"


@dataclass(frozen=True)
class User:
    """A NATS user entry: a literal password, or `$VAR` (`from_env`) read by nats-server."""

    name: str
    password: str
    permissions: Permissions
    from_env: bool = False


def standard_users(
    scope: Scope, passwords: Mapping[str, str] | None = None, *, from_env: bool = False
) -> list[User]:
    """Every standard user: literal passwords from `passwords`, or `$NATS_*_PASSWORD`."""
    users = []
    for name in USERS:
        secret = password_variable(name) if from_env else (passwords or {})[name]
        users.append(User(name, secret, permissions_of(name, scope), from_env))
    return users


def _quote(value: str) -> str:
    return json.dumps(value)  # a double-quoted string nats-server reads literally


def _subjects(subjects: Iterable[str]) -> str:
    return "[" + ", ".join(_quote(s) for s in subjects) + "]"


def _rule(subjects: tuple[str, ...]) -> str:
    return f"{{ allow: {_subjects(subjects)} }}" if subjects else '{ deny: [">"] }'


def render_config(
    users: Sequence[User],
    *,
    listen: str,
    monitor: str | None,
    store_dir: str,
    extra: str = "",
) -> str:
    """A nats-server configuration: JetStream on `store_dir`, the users, no anonymous access."""
    lines = [
        "# prokopim's closed bus: generated by prokopim_events.bus_auth (docs/security.md).",
        f"listen: {_quote(listen)}",
    ]
    if monitor:
        lines.append(f"http: {_quote(monitor)}")
    lines += [
        f"jetstream {{ store_dir: {_quote(store_dir)} }}",
        "authorization {",
        "  users = [",
    ]
    for user in users:
        password = f"${user.password}" if user.from_env else _quote(user.password)
        lines += [
            f"    {{ user: {_quote(user.name)}, password: {password}, permissions: {{",
            f"        publish: {_rule(user.permissions.publish)},",
            f"        subscribe: {_rule(user.permissions.subscribe)} }} }}",
        ]
    lines += ["  ]", "}"]
    if extra:
        lines.append(extra.rstrip())
    return "\n".join(lines) + "\n"


def compose_config(namespace: str = "") -> str:
    """The configuration deploy/nats/nats.conf holds: passwords from the environment."""
    return render_config(
        standard_users(Scope.of(namespace), from_env=True),
        listen="0.0.0.0:4222",
        monitor="0.0.0.0:8222",  # for the healthcheck inside the container; not published
        store_dir="/data",
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the compose configuration for a namespace."""
    parser = argparse.ArgumentParser(description="print deploy/nats/nats.conf")
    parser.add_argument("--namespace", default="", help="PROKOPIM_NAMESPACE of the installation")
    args = parser.parse_args(argv)
    print(compose_config(args.namespace), end="")


if __name__ == "__main__":
    main()
