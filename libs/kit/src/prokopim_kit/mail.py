"""Mail through SMTP for the services that send it (scheduling's invitations, publishing's
press releases): one set of settings, one way to open a session, one rule for what no
retry can fix."""

from __future__ import annotations

from typing import Literal

import aiosmtplib
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Security = Literal["auto", "starttls", "tls", "none"]


class SmtpSettings(BaseSettings):
    """The mail server (env SMTP_HOST, SMTP_PORT, ...); each service adds its SMTP_SENDER."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    smtp_host: str = Field(default="127.0.0.1", description="SMTP_HOST")
    smtp_port: int = Field(default=25, gt=0, lt=65536, description="SMTP_PORT")
    smtp_username: str | None = Field(default=None, description="SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, description="SMTP_PASSWORD")
    smtp_security: Security = Field(
        default="auto",
        description="SMTP_SECURITY: auto uses STARTTLS when the server offers it",
    )
    smtp_timeout: float = Field(default=30.0, gt=0, description="SMTP_TIMEOUT seconds")

    def smtp_session(self) -> aiosmtplib.SMTP:
        """A session to this mail server (see `smtp_session`)."""
        return smtp_session(
            self.smtp_host,
            self.smtp_port,
            username=self.smtp_username,
            password=self.smtp_password,
            security=self.smtp_security,
            timeout=self.smtp_timeout,
        )


def smtp_session(
    host: str,
    port: int,
    *,
    username: str | None = None,
    password: str | None = None,
    security: Security = "auto",
    timeout: float = 30.0,
) -> aiosmtplib.SMTP:
    """An SMTP session to open with `async with` (one per message: a failure stays its own)."""
    return aiosmtplib.SMTP(
        hostname=host,
        port=port,
        username=username,
        password=password,
        use_tls=security == "tls",
        # auto: STARTTLS when the server offers it; starttls: required; none/tls: never
        start_tls={"auto": None, "starttls": True}.get(security, False),
        timeout=timeout,
    )


def refused_for_good(error: BaseException) -> bool:
    """Whether the server's answer means no retry will deliver: a 5xx reply, or every
    recipient refused with a 5xx (a 4xx, a timeout or a lost connection may pass)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(500 <= r.code < 600 for r in error.recipients)
    return isinstance(error, aiosmtplib.SMTPResponseException) and 500 <= error.code < 600
