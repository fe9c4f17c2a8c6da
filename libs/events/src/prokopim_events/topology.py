"""Where events live on NATS: the JetStream stream, subjects, and the dead-letter stream.

A namespace prefixes every subject and stream name, so tests (or two installations on one
NATS server) never share state. Durable consumer names need no namespace (a durable belongs
to its stream) but always carry the `prokopim-` prefix, so that an outside subscriber's
durable can never be mistaken for, or take over, a service's (see docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

EVENT_ROOT = "prokopim"
# The services that follow the event stream through a durable consumer (intake has none).
CONSUMERS = ("scheduling", "production", "review", "publishing", "ledger")


@dataclass(frozen=True)
class Topology:
    """Names of the streams and subjects of one prokopim installation."""

    namespace: str = ""
    duplicate_window_seconds: float = 600.0

    def _prefix(self) -> str:
        return f"{self.namespace}." if self.namespace else ""

    @property
    def stream(self) -> str:
        """The JetStream stream holding every domain event."""
        return f"PROKOPIM_{self.namespace.upper()}" if self.namespace else "PROKOPIM"

    @property
    def dead_letter_stream(self) -> str:
        """The JetStream stream holding poison messages."""
        return f"{self.stream}_DLQ"

    def subject(self, event_type: str) -> str:
        """Return the subject an event type is published on (the type itself, namespaced)."""
        return f"{self._prefix()}{event_type}"

    def event_type(self, subject: str) -> str:
        """Return the event type a subject carries."""
        return subject.removeprefix(self._prefix())

    @property
    def all_events(self) -> str:
        """A subject filter matching every domain event."""
        return f"{self._prefix()}{EVENT_ROOT}.>"

    def dead_letter_subject(self, consumer: str) -> str:
        """Return the subject a consumer's poison messages are published on."""
        return f"{self._prefix()}deadletter.{EVENT_ROOT}.{consumer}"

    @staticmethod
    def durable(service: str) -> str:
        """Return the durable consumer name of a service: `prokopim-<service>`."""
        return f"{EVENT_ROOT}-{service}"

    @property
    def all_dead_letters(self) -> str:
        return f"{self._prefix()}deadletter.{EVENT_ROOT}.>"


async def ensure_streams(js: JetStreamContext, topology: Topology) -> None:
    """Create (or update) the event and dead-letter streams."""
    window = topology.duplicate_window_seconds
    for name, subjects in (
        (topology.stream, [topology.all_events]),
        (topology.dead_letter_stream, [topology.all_dead_letters]),
    ):
        config = StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            duplicate_window=window,
        )
        try:
            await js.stream_info(name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)
