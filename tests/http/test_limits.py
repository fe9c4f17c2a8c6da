"""Limits that keep every event on the bus, and mail headers that stay one line."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from prokopim_kit.text import BUS_MESSAGE_LIMIT, InputLimits
from prokopim_publishing.domain import PressRelease
from prokopim_publishing.mailer import header_text, press_release_message
from prokopim_publishing.registry import Outlet
from pydantic import ValidationError

pytestmark = pytest.mark.unit


def test_the_default_limits_keep_the_largest_event_under_the_bus_limit() -> None:
    assert InputLimits().worst_event_bytes() < BUS_MESSAGE_LIMIT


def test_limits_that_could_overflow_the_bus_are_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="more than the bus carries"):
        InputLimits(text_max_body=200_000)
    with pytest.raises(ValidationError, match="more than the bus carries"):
        InputLimits(list_max_items=1_000)


def test_a_title_with_line_breaks_stays_one_mail_header() -> None:
    assert header_text("Judul\r\nBcc: all@kota.example\u2028x\x00") == (
        "Judul Bcc: all@kota.example x"
    )
    assert len(header_text("a" * 5000)) == 200


def test_the_press_release_mail_carries_no_injected_header() -> None:
    release = PressRelease(
        case_id=uuid4(),
        title="Berita\r\nBcc: everyone@kota.example",
        body="Isi",
        files=(),
        activity_name="HUT",
        activity_date=date(2026, 5, 25),
    )
    outlet = Outlet(
        outlet_id=uuid4(), name="Koran\nX-Evil: 1", email="r@koran.example", active=True
    )
    message = press_release_message(release, "https://kota.example/1", "p@kota.example", outlet)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Berita Bcc: everyone@kota.example"
    assert "\n" not in str(message["To"])
