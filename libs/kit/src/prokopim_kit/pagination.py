"""Cursor pagination: every list a service serves comes in pages with a `next` link.

A page is an object: the items under the plural name of what is listed (`outlets`,
`entries`, `attempts`...), their `count` and `next`, the URL (relative to the service) of
the following page, null on the last; the same URL is sent as `Link: <...>; rel="next"`
(RFC 8288). The cursor
is opaque to clients: the key of the last item, encoded; a cursor the service did not give
is a 422 naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Query, Request, Response
from pydantic import Field

from .errors import InvalidCommand

T = TypeVar("T")

CursorParam = Annotated[
    str | None,
    Query(
        max_length=512,
        pattern=r"^[A-Za-z0-9_\-=]*$",
        description="where the page starts: the `next` link of the previous page carries it",
    ),
]
LimitParam = Annotated[int, Query(ge=1, le=1000, description="items per page (1..1000)")]


NEXT = Field(description="URL of the next page; null on the last page")
COUNT = Field(description="items on this page")


def encode_cursor(key: Any) -> str:
    """Return the opaque cursor of a sort key (JSON-serialisable)."""
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    """Return the sort key a cursor carries (None when no cursor was given)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCommand(
            "cursor is not one this service gave; follow the `next` link", field="cursor"
        ) from error


def bad_cursor() -> InvalidCommand:
    """Return the refusal of a cursor whose key has the wrong shape."""
    return InvalidCommand("cursor is not one this service gave; follow the `next` link", "cursor")


def next_link(request: Request, response: Response | None, key: Any | None) -> str | None:
    """Return the next page's URL for the last item's `key` (None: no next page).

    The other query parameters are kept; the URL is also set as the response's Link header.
    """
    if key is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", encode_cursor(key)))
    link = f"{request.url.path}?{urlencode(params)}"
    if response is not None:
        with_link(response, link)
    return link


def with_link(response: Response, link: str | None) -> Response:
    """Set the response's `Link: <next>; rel="next"` header (when there is a next page)."""
    if link is not None:
        response.headers["Link"] = f'<{link}>; rel="next"'
    return response


def page_of(
    request: Request, response: Response | None, rows: list[T], limit: int, key: Any
) -> tuple[list[T], str | None]:
    """Cut `rows` (fetched with limit + 1) to a page; return it and the next link.

    `key` maps the last row of the page to its sort key.
    """
    more = len(rows) > limit
    items = rows[:limit]
    return items, next_link(request, response, key(items[-1]) if more and items else None)
