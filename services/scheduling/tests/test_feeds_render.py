"""Rendering feeds: the cache serves what the library would render, and never a stale event."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from prokopim_scheduling.feeds import Entry, EventCache, calendar

pytestmark = pytest.mark.unit

START = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)


def entry(n: int) -> Entry:
    return Entry(
        uid=uuid.UUID(int=n),
        summary=f"Kegiatan {n}, dengan koma; dan titik koma",
        starts_at=START + timedelta(hours=n),
        ends_at=START + timedelta(hours=n + 2),
        location="Pendopo",
        sequence=0,
        cancelled=False,
        updated_at=START,
        description="Pimpinan: pimpinan\nTim: Budi, Kamera #1",
    )


def test_a_cached_feed_is_the_uncached_one_and_changes_show() -> None:
    cache = EventCache(size=2)
    entries = [entry(n) for n in range(3)]
    assert calendar("x", entries, cache) == calendar("x", entries)
    assert calendar("x", entries, cache) == calendar("x", entries)  # served from the cache

    moved = replace(entries[0], sequence=1, starts_at=START + timedelta(days=1))
    (event,) = Calendar.from_ical(calendar("x", [moved], cache)).walk("VEVENT")
    assert event.decoded("sequence") == 1
    assert event.decoded("dtstart") == START + timedelta(days=1)
    assert str(event["summary"]) == "Kegiatan 0, dengan koma; dan titik koma"
    (zone,) = Calendar.from_ical(calendar("x", [moved], cache)).walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Asia/Jakarta"
