"""Settings of bookings, the leader's agenda and calendar feeds (mixed into Settings)."""

from __future__ import annotations

from datetime import time, timedelta

from prokopim_kit.runtime import Runtime
from pydantic import Field
from pydantic_settings import BaseSettings


class BookingSettings(BaseSettings):
    """BOOKING_* and AGENDA_* variables; every limit here has a documented default."""

    booking_buffer_minutes: int = Field(
        default=30,
        ge=0,
        le=24 * 60,
        description="BOOKING_BUFFER_MINUTES: travel/set-up time reserved before and after",
    )
    booking_default_minutes: int = Field(
        default=120,
        gt=0,
        le=7 * 24 * 60,
        description="BOOKING_DEFAULT_MINUTES: an activity's length when no end is given",
    )
    booking_default_start: time = Field(
        default=time(9, 0),
        description="BOOKING_DEFAULT_START: office-time start when only the date is known",
    )
    agenda_leader: str = Field(
        default="pimpinan",
        min_length=1,
        description="AGENDA_LEADER: the leader an activity is for when none is named",
    )
    feed_max_events: int = Field(
        default=5000,
        gt=0,
        description="FEED_MAX_EVENTS: the most bookings one calendar feed lists (latest first)",
    )

    feed_cache_events: int = Field(
        default=20_000,
        ge=0,
        description="FEED_CACHE_EVENTS: rendered calendar events kept in memory per process",
    )

    @property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.booking_buffer_minutes)

    @property
    def default_length(self) -> timedelta:
        return timedelta(minutes=self.booking_default_minutes)


def booking_settings(runtime: Runtime) -> BookingSettings:
    """Return the running service's booking settings (defaults when it was built without)."""
    settings = runtime.settings
    if isinstance(settings, BookingSettings):
        return settings
    cached = runtime.extras.get("booking_settings")
    if not isinstance(cached, BookingSettings):
        cached = runtime.extras["booking_settings"] = BookingSettings()
    return cached
