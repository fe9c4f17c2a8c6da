"""Request-side forms of the shared contract parts, bounded and clean (`prokopim_kit.text`).

A command body that carries a requester or attachments uses these: each is a subclass of
its contract model (so the domain receives what it always did) whose fields refuse
unknown members, control characters and texts longer than their kind allows.
"""

from __future__ import annotations

from typing import Annotated

from prokopim_events.contracts import Attachment, Requester
from pydantic import ConfigDict, EmailStr, Field

from .text import Bounded, Line, Ref


class RequesterBody(Requester):
    """Who asked: a person and their agency, with how to reach them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Line
    agency: Line
    email: Annotated[EmailStr, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=40, pattern=r"^\+?[0-9 ()./-]{3,40}$")] | None = None


class AttachmentBody(Attachment):
    """A file the command refers to, by reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Line = Field(description="script, agenda, letter, photo, video, ...")
    ref: Ref = Field(description="where the file is: a URL or a document-store reference")
    name: Line | None = None


Attachments = Annotated[list[AttachmentBody], Bounded("items")]
"""At most LIST_MAX_ITEMS attachments."""
Files = Annotated[list[AttachmentBody], Bounded("items"), Field(min_length=1)]
"""One to LIST_MAX_ITEMS files."""
