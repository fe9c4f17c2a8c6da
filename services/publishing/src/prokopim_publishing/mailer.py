"""The mail adapter: one message per media outlet, each in its own SMTP session."""

from __future__ import annotations

import unicodedata
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib
from prokopim_events.contracts import OrderedOutlet
from prokopim_kit.mail import SmtpSettings, refused_for_good

from .domain import PressRelease
from .errors import IntegrationFailed
from .registry import Outlet

INTEGRATION = "email"
HEADER_TEXT_MAX = 200
"""Characters of a subject or display name kept in a header (the rest is in the body)."""


def header_text(value: str) -> str:
    """Return `value` fit for a mail header: one line, no control characters, bounded.

    A CR or LF in a header value would start another header (header injection), and the
    email package refuses it outright; the title and outlet name come from users.
    """
    kept = "".join(" " if unicodedata.category(ch) in {"Cc", "Zl", "Zp"} else ch for ch in value)
    one_line = " ".join(kept.split())
    if len(one_line) > HEADER_TEXT_MAX:
        one_line = one_line[: HEADER_TEXT_MAX - 1].rstrip() + "…"
    return one_line


class MailRefused(IntegrationFailed):
    """The mail server refused this outlet's mail; `permanent` for a 5xx answer (e.g. 550)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(INTEGRATION, reason)
        self.permanent = permanent


def press_release_message(
    release: PressRelease,
    website_url: str,
    sender: str,
    outlet: Outlet | OrderedOutlet,
    message_id: str | None = None,
) -> EmailMessage:
    """Write the press release email to one outlet: text, the website link, the files."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((header_text(outlet.name), header_text(outlet.email)))
    message["Subject"] = header_text(release.title)
    message["Message-ID"] = message_id or make_msgid(domain="prokopim")
    message["X-Prokopim-Case"] = str(release.case_id)
    lines = [release.body, "", f"Berita lengkap / full story: {website_url}"]
    if release.files:
        lines += ["", "Berkas / files:"]
        lines += [f"- {file.name or file.kind}: {file.ref}" for file in release.files]
    message.set_content("\n".join(lines) + "\n")
    return message


class SmtpMailer:
    """Sends press releases through an SMTP server."""

    def __init__(self, server: SmtpSettings, sender: str) -> None:
        self._server = server
        self._sender = sender

    @property
    def sender(self) -> str:
        """The From address of every press release."""
        return self._sender

    async def send_one(self, message: EmailMessage) -> None:
        """Send one message in its own session; MailRefused says whether a retry may help."""
        smtp = self._server.smtp_session()
        try:
            async with smtp:
                await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as error:
            reason = f"{self._where()}: {error}"
            raise MailRefused(reason, permanent=refused_for_good(error)) from error
        except aiosmtplib.SMTPResponseException as error:
            reason = f"{self._where()}: {error.code} {error.message}"
            raise MailRefused(reason, permanent=refused_for_good(error)) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            reason = f"{self._where()}: {type(error).__name__}: {error}"
            raise MailRefused(reason, permanent=False) from error

    def _where(self) -> str:
        return f"{self._server.smtp_host}:{self._server.smtp_port}"
