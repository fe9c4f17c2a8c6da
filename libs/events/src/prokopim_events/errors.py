"""Named errors of the event backbone."""

from __future__ import annotations


class EventStoreError(Exception):
    """Base class of the store's errors."""


class WrongExpectedVersion(EventStoreError):
    """An append expected the stream at one version and found it at another."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is at version {actual}, the append expected {expected}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventId(EventStoreError):
    """An event id already stored belongs to another stream or another position."""

    def __init__(self, event_ids: list[str]) -> None:
        super().__init__(f"event ids already stored elsewhere: {', '.join(event_ids)}")
        self.event_ids = event_ids
