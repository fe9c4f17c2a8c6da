"""`prokopim consumers`: each durable consumer's lag, pending acks and redeliveries."""

from __future__ import annotations

import json
from typing import Any

import typer
from nats.js.errors import NotFoundError
from prokopim_events.topology import Topology

from .errors import DEFAULT_NATS_URL, Unavailable, open_bus, run


async def _consumers(nats_url: str, namespace: str) -> list[dict[str, Any]]:
    topology = Topology(namespace=namespace)
    nc = await open_bus(nats_url)
    try:
        js = nc.jetstream()
        try:
            stream = await js.stream_info(topology.stream)
        except NotFoundError:
            raise Unavailable(
                f"no stream {topology.stream} on NATS: start the relay or a service"
                " (they create it), or check PROKOPIM_NAMESPACE"
            ) from None
        infos = await js.consumers_info(topology.stream)
    finally:
        await nc.close()
    last = stream.state.last_seq
    return [
        {
            "consumer": info.name,
            "pending": info.num_pending or 0,
            "ack_pending": info.num_ack_pending or 0,
            "redelivered": info.num_redelivered or 0,
            "delivered_up_to": info.delivered.stream_seq if info.delivered else 0,
            "acked_up_to": info.ack_floor.stream_seq if info.ack_floor else 0,
            "stream_last": last,
            "waiting_pulls": info.num_waiting or 0,
        }
        for info in sorted(infos, key=lambda info: info.name)
    ]


def consumers(
    nats_url: str = typer.Option(DEFAULT_NATS_URL, envvar="NATS_URL"),
    namespace: str = typer.Option("", envvar="PROKOPIM_NAMESPACE", help="the installation's"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Show every durable consumer of the event stream: messages not yet delivered (lag),
    delivered but not acked, being redelivered. Exit 3: NATS cannot be reached."""
    rows = run(_consumers(nats_url, namespace))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(
        f"{'consumer':<24} {'pending':>8} {'ack pending':>11} {'redelivered':>11}"
        f" {'acked up to':>11} {'stream last':>11}"
    )
    for row in rows:
        typer.echo(
            f"{row['consumer']:<24} {row['pending']:>8} {row['ack_pending']:>11}"
            f" {row['redelivered']:>11} {row['acked_up_to']:>11} {row['stream_last']:>11}"
        )
