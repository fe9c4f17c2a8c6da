"""What no retry of a mail can fix, and how a session is opened: one rule for every
service that mails (scheduling's invitations, publishing's press releases)."""

from __future__ import annotations

import aiosmtplib
import pytest
from prokopim_kit.mail import SmtpSettings, refused_for_good, smtp_session


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        (aiosmtplib.SMTPResponseException(550, "mailbox unavailable"), True),
        (aiosmtplib.SMTPResponseException(554, "transaction failed"), True),
        (aiosmtplib.SMTPResponseException(451, "try again later"), False),
        (aiosmtplib.SMTPResponseException(421, "service not available"), False),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@example.org")]
            ),
            True,
        ),
        (  # one recipient may yet be reached
            aiosmtplib.SMTPRecipientsRefused(
                [
                    aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@example.org"),
                    aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "b@example.org"),
                ]
            ),
            False,
        ),
        (aiosmtplib.SMTPRecipientsRefused([]), False),
        (aiosmtplib.SMTPServerDisconnected("lost"), False),
        (aiosmtplib.SMTPTimeoutError("slow"), False),
        (ConnectionRefusedError(111, "refused"), False),
    ],
)
def test_only_a_5xx_answer_is_refused_for_good(error: BaseException, for_good: bool) -> None:
    assert refused_for_good(error) is for_good


@pytest.mark.parametrize(
    ("security", "use_tls", "start_tls"),
    [
        ("auto", False, None),
        ("starttls", False, True),
        ("tls", True, False),
        ("none", False, False),
    ],
)
def test_a_session_speaks_the_security_asked_for(
    security: str, use_tls: bool, start_tls: bool | None
) -> None:
    settings = SmtpSettings.model_validate(
        {"smtp_host": "mail.example.org", "smtp_port": 587, "smtp_security": security}
    )
    smtp = smtp_session(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        timeout=settings.smtp_timeout,
    )
    assert (smtp.hostname, smtp.port, smtp.timeout) == ("mail.example.org", 587, 30.0)
    assert (smtp.use_tls, smtp._start_tls_on_connect) == (use_tls, start_tls)
