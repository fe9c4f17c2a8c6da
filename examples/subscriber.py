#!/usr/bin/env python3
"""Follow prokopim's events from outside: replay from the beginning, then follow live.

Needs only nats-py (`pip install nats-py`) and the standard library:

    python examples/subscriber.py --nats nats://127.0.0.1:4222 --durable my-dashboard

What it shows (docs/events.md, "How to subscribe from outside"):
- a durable pull consumer on the PROKOPIM stream with DeliverPolicy.ALL: the first run
  replays every event ever published, then the same loop receives new ones as they come;
  a restart continues after the last acked event;
- dedup by the CloudEvents `id` (= the `Nats-Msg-Id` header), recorded in the same SQLite
  transaction as the effect, because the relay may re-publish an event after a crash and
  JetStream redelivers a message whose ack was lost;
- ack only after the effect is committed.

The "effect" here is a small table of activity per case; replace `apply_effect` with
yours. Every processed event, skipped duplicate and the switch to live is printed as one
JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
from typing import Any

import nats
import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    event_id TEXT PRIMARY KEY,  -- CloudEvents id: a repeat of it is skipped
    type TEXT NOT NULL,
    position INTEGER
);
CREATE TABLE IF NOT EXISTS case_activity (   -- the example's effect
    stream TEXT PRIMARY KEY,
    events INTEGER NOT NULL,
    last_type TEXT NOT NULL,
    last_time TEXT
);
"""


def stream_name(namespace: str) -> str:
    """The JetStream stream of an installation (PROKOPIM, or PROKOPIM_<NS>)."""
    return f"PROKOPIM_{namespace.upper()}" if namespace else "PROKOPIM"


def subject_filter(namespace: str, types: str) -> str:
    """The subjects to follow: `prokopim.>` by default, namespaced if needed."""
    return f"{namespace}.{types}" if namespace else types


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


class State:
    """Processed event ids and the effect, in one SQLite database."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def process(self, event: dict[str, Any]) -> bool:
        """Apply an event's effect once; return False if its id was processed before."""
        # SQLite calls block, but briefly; a real subscriber would use its async driver.
        with self.db:  # one transaction: the id is recorded if and only if the effect is
            inserted = self.db.execute(
                "INSERT OR IGNORE INTO processed_events VALUES (?, ?, ?)",
                (event["id"], event["type"], event.get("position")),
            ).rowcount
            if inserted:
                apply_effect(self.db, event)
        return bool(inserted)


def apply_effect(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    """The example's effect: count each stream's events and remember the last one."""
    db.execute(
        "INSERT INTO case_activity VALUES (?, 1, ?, ?) ON CONFLICT (stream) DO UPDATE"
        " SET events = events + 1, last_type = excluded.last_type,"
        " last_time = excluded.last_time",
        (event.get("subject", ""), event["type"], event.get("time")),
    )


async def handle(msg: Msg, state: State) -> None:
    try:
        event = json.loads(msg.data)
        event_id = event["id"]
    except (ValueError, KeyError, TypeError):
        emit(event="unreadable", subject=msg.subject)
        await msg.term()  # will never parse: stop redelivering it
        return
    header_id = (msg.headers or {}).get("Nats-Msg-Id")
    if header_id and header_id != event_id:
        emit(event="warning", detail="Nats-Msg-Id differs from the CloudEvents id", id=event_id)
    if state.process(event):
        emit(
            event="processed",
            id=event_id,
            type=event["type"],
            position=event.get("position"),
            delivered=msg.metadata.num_delivered,
        )
    else:
        emit(event="duplicate", id=event_id, type=event["type"])
    await msg.ack()  # only now: the effect (or the proof it happened before) is committed


async def follow(args: argparse.Namespace, stop: asyncio.Event) -> None:
    nc = await nats.connect(args.nats, inbox_prefix=args.inbox_prefix)
    try:
        js = nc.jetstream()
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,  # replay from the first event, then follow
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=30,
            max_deliver=10,
        )
        subscription = await js.pull_subscribe(
            subject_filter(args.namespace, args.types),
            durable=args.durable,
            stream=stream_name(args.namespace),
            config=config,
        )
        state = State(args.state)
        live = False
        while not stop.is_set():
            try:
                messages = await subscription.fetch(args.batch, timeout=args.wait)
            except (nats.errors.TimeoutError, TimeoutError):  # nothing new within `wait`
                messages = []
            for msg in messages:
                await handle(msg, state)
            pending = messages[-1].metadata.num_pending if messages else 0
            if not live and pending == 0:
                live = True
                emit(event="live", detail="replayed the backlog; following new events")
    finally:
        await nc.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="NATS server URL")
    parser.add_argument("--namespace", default="", help="installation namespace, if any")
    parser.add_argument("--durable", default="example-subscriber", help="durable name")
    parser.add_argument(
        "--inbox-prefix",
        default="_INBOX",
        help="reply inbox prefix: _INBOX_<user> on prokopim's closed bus (docs/security.md)",
    )
    parser.add_argument(
        "--types", default="prokopim.>", help="subject filter, e.g. prokopim.review.>"
    )
    parser.add_argument("--state", default="subscriber.sqlite3", help="SQLite file for ids")
    parser.add_argument("--batch", type=int, default=100, help="messages per fetch")
    parser.add_argument("--wait", type=float, default=1.0, help="seconds a fetch waits")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    await follow(args, stop)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
