"""Links to the requester's status page: served by scheduling, carried by every mail that
goes to the requester (scheduling's invitations, publishing's hand-over notice).

The link is `<STATUS_PAGE_URL>/status/<case_id>/<token>`, the token an HMAC of the case id
under STATUS_LINK_SECRET (else a key derived from JWT_SECRET): unguessable, stored nowhere,
the same every time, so any process holding the key writes the same link without asking
scheduling.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from uuid import UUID

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StatusLinkSettings(BaseSettings):
    """Where requesters open their status page, and the key of its links."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    status_link_secret: str | None = Field(
        default=None,
        min_length=32,
        description="STATUS_LINK_SECRET: key of the status-page links (else derived from "
        "JWT_SECRET); changing it invalidates every link sent",
    )
    status_page_url: str = Field(
        default="http://127.0.0.1:8002",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        max_length=500,
        description="STATUS_PAGE_URL: the address at which requesters reach scheduling's "
        "/status pages (its public URL); the links in mails start with it",
    )


def link_key(settings: BaseModel) -> bytes | None:
    """The key of the links under `settings` (None when there is none: RS256 tokens and no
    STATUS_LINK_SECRET)."""
    own = getattr(settings, "status_link_secret", None)
    if own is None and not isinstance(settings, StatusLinkSettings):
        own = StatusLinkSettings().status_link_secret
    if own:
        return str(own).encode()
    secret = getattr(settings, "jwt_secret", None)
    if not secret:
        return None
    return hmac.new(str(secret).encode(), b"prokopim status links", hashlib.sha256).digest()


def status_token(key: bytes, case_id: UUID) -> str:
    """Return the unguessable token of a case's status page."""
    mac = hmac.new(key, b"status:" + case_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def status_path(key: bytes, case_id: UUID) -> str:
    """Return the path of a case's status page."""
    return f"/status/{case_id}/{status_token(key, case_id)}"


def status_url(settings: BaseModel, case_id: UUID) -> str | None:
    """Return the full link of a case's status page for a mail (None without a key)."""
    key = link_key(settings)
    if key is None:
        return None
    base = getattr(settings, "status_page_url", None)
    if base is None:
        base = StatusLinkSettings().status_page_url
    return str(base).rstrip("/") + status_path(key, case_id)
