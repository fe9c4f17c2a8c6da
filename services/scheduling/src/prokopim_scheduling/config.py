"""Scheduling's settings: the shared service settings, listening on port 8002 by default."""

from __future__ import annotations

from prokopim_kit.mail import SmtpSettings
from prokopim_kit.office_calendar import CalendarSettings
from prokopim_kit.runtime import ServiceSettings
from prokopim_kit.status_links import StatusLinkSettings
from pydantic import Field

from .booking_config import BookingSettings


class Settings(
    ServiceSettings, BookingSettings, StatusLinkSettings, CalendarSettings, SmtpSettings
):
    """Read from the environment: DATABASE_URL, NATS_URL, JWT_SECRET, ..., HOST, PORT."""

    port: int = Field(default=8002, ge=1, le=65535, description="PORT (scheduling: 8002)")
    smtp_sender: str = Field(
        default="prokopim@localhost", description="SMTP_SENDER: From (and ORGANIZER) of invitations"
    )
    delivery_attempts: int = Field(
        default=3,
        ge=1,
        le=5,
        description="DELIVERY_ATTEMPTS: tries of a mail while the server is unreachable or answers"
        " 4xx, before it is recorded failed (5xx fails at once)",
    )
    invitation_minutes: int = Field(
        default=120, gt=0, description="INVITATION_MINUTES: length of the invitation's event"
    )
