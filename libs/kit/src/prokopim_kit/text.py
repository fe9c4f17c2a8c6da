"""Bounded, clean input: the types every request body and query of prokopim uses.

A text a client sends ends up in an event, in PostgreSQL's jsonb, on the bus and perhaps in
a mail header, so every one is refused with a 422 naming its field when it holds what none
of those can carry: a NUL, a lone surrogate, a control character (tab is allowed; newline
only in multi-line text), or more characters than its kind allows. The lengths are settings
(`InputLimits`, one per kind of text), checked at start-up so that the largest event the
commands can produce stays under the bus's message limit (NATS: 1 MiB).

Kinds: `Line` (a name, a title, a number: one line), `Note` (an instruction, a reason, a
message: several lines), `Body` (a press release), `Ref` (a reference or URL), `Key` (an
id such as a kelengkapan id); every list and map in a body holds at most `list_max_items`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from pydantic_settings import BaseSettings

Kind = Literal["line", "note", "body", "ref", "key", "items"]

BUS_MESSAGE_LIMIT = 1024 * 1024
"""NATS's default max_payload: an event larger than this can never be relayed."""
_ENVELOPE_ALLOWANCE = 64 * 1024  # CloudEvents attributes, metadata, JSON punctuation
_UTF8_MAX = 4  # orjson writes UTF-8: one character is at most four bytes


class InputLimits(BaseSettings):
    """How long each kind of text may be, and the years a date may fall in."""

    text_max_line: int = Field(
        default=300, ge=16, le=10_000, description="TEXT_MAX_LINE: a name, title or number"
    )
    text_max_note: int = Field(
        default=4_000, ge=16, le=100_000, description="TEXT_MAX_NOTE: instruction, reason, note"
    )
    text_max_body: int = Field(
        default=20_000, ge=16, le=200_000, description="TEXT_MAX_BODY: a press release's text"
    )
    text_max_ref: int = Field(
        default=1_000, ge=16, le=10_000, description="TEXT_MAX_REF: a reference or URL"
    )
    text_max_key: int = Field(default=100, ge=8, le=1_000, description="TEXT_MAX_KEY: an id")
    list_max_items: int = Field(
        default=20, ge=1, le=1_000, description="LIST_MAX_ITEMS: entries of any list or map"
    )
    date_min_year: int = Field(default=2000, ge=1970, description="DATE_MIN_YEAR")
    date_max_year: int = Field(default=2100, le=9000, description="DATE_MAX_YEAR")
    period_max_days: int = Field(
        default=1096, ge=1, description="PERIOD_MAX_DAYS: longest from..to a query may span"
    )

    def limit(self, kind: Kind) -> int:
        """Return the limit of one kind of text (or of list entries)."""
        return int(getattr(self, "list_max_items" if kind == "items" else f"text_max_{kind}"))

    def worst_event_bytes(self) -> int:
        """Return an upper bound of the largest event the commands can write.

        An event carries at most the case file (a few lines, the requester, attachments),
        a draft (files and notes), the step's inputs, an assignment list, a checklist, a
        few notes, a title and a body.
        """
        line, ref, key, items = (self.limit(k) for k in ("line", "ref", "key", "items"))
        characters = (
            10 * line
            + 320  # an e-mail address
            + 3 * items * (2 * line + ref)  # attachments, draft files, assignments
            + 2 * items * (key + ref)  # inputs, checklist
            + 4 * self.text_max_note
            + self.text_max_body
        )
        return _UTF8_MAX * characters + 64 * 6 * items + _ENVELOPE_ALLOWANCE

    @model_validator(mode="after")
    def _fits_the_bus(self) -> InputLimits:
        if self.date_max_year < self.date_min_year:
            raise ValueError("DATE_MAX_YEAR is before DATE_MIN_YEAR")
        worst = self.worst_event_bytes()
        if worst > BUS_MESSAGE_LIMIT:
            raise ValueError(
                f"with these TEXT_MAX_* and LIST_MAX_ITEMS an event could reach {worst} bytes,"
                f" more than the bus carries ({BUS_MESSAGE_LIMIT}); lower them"
            )
        return self


_limits = InputLimits()


def configure(limits: InputLimits) -> None:
    """Make `limits` the ones every bounded field checks (a service does this at start)."""
    global _limits
    _limits = limits


def current() -> InputLimits:
    """Return the limits in force."""
    return _limits


def problem_in(text: str, *, multiline: bool) -> str | None:
    """Return why `text` cannot be stored and sent on, or None when it is clean."""
    for index, char in enumerate(text):
        if char == "\x00":
            return f"contains a NUL character at position {index}"
        if "\ud800" <= char <= "\udfff":
            return f"contains a lone surrogate (U+{ord(char):04X}) at position {index}"
        if char == "\t" or (multiline and char == "\n"):
            continue
        if unicodedata.category(char) in {"Cc", "Zl", "Zp"}:
            what = "a line break" if char in "\r\n\u2028\u2029" else "a control character"
            return f"contains {what} (U+{ord(char):04X}) at position {index}"
    return None


@dataclass(frozen=True)
class Clean:
    """Refuse NUL, lone surrogates and control characters (newline only if multiline).

    The text is checked as sent, before any stripping, so that what the documented pattern
    refuses is refused; a multi-line text then has its CR LF and CR made LF.
    """

    multiline: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(self._check, handler(source))

    def _check(self, value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, str):
            sent = value.replace("\r", "\n") if self.multiline else value
            problem = problem_in(sent, multiline=self.multiline)
            if problem is not None:
                raise PydanticCustomError("unclean_text", "text {problem}", {"problem": problem})
        result = inner(value)
        if self.multiline and isinstance(result, str):
            result = result.replace("\r\n", "\n").replace("\r", "\n")
        return result

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = MULTILINE_PATTERN if self.multiline else LINE_PATTERN
        return json_schema


LINE_PATTERN = "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"
"""What one line of text may hold (JSON Schema, ECMA regex): no control characters but tab."""
MULTILINE_PATTERN = (
    "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\u2028\\u2029]*$"
)
"""What multi-line text may hold: tab, LF and CR besides printable characters."""


@dataclass(frozen=True)
class Bounded:
    """At most the current limit of `kind`: characters of a text, entries of a list or map."""

    kind: Kind

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # checked on what was sent, before stripping: as the documented maxLength says
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def _check(self, value: Any) -> Any:
        limit = _limits.limit(self.kind)
        if isinstance(value, str | list | dict) and len(value) > limit:
            if isinstance(value, str):
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": limit},
                )
            raise PydanticCustomError(
                "too_long", "should have at most {max_length} entries", {"max_length": limit}
            )
        return value

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        limit = _limits.limit(self.kind)
        key = {"string": "maxLength", "array": "maxItems", "object": "maxProperties"}
        kind = json_schema.get("type")
        if isinstance(kind, str) and kind in key:
            json_schema[key[kind]] = limit
        return json_schema


def _sane_year(value: date) -> date:
    low, high = _limits.date_min_year, _limits.date_max_year
    if not low <= value.year <= high:
        raise PydanticCustomError(
            "date_out_of_range",
            "year {year} is outside {low}..{high} (DATE_MIN_YEAR..DATE_MAX_YEAR)",
            {"year": value.year, "low": low, "high": high},
        )
    return value


def _as_text(value: Any) -> Any:
    # pydantic would read a number as seconds since 1970; the API documents ISO 8601 text
    if isinstance(value, int | float):
        raise PydanticCustomError("date_type", "give the date as ISO 8601 text (YYYY-MM-DD)")
    return value


@dataclass(frozen=True)
class SaneYear:
    """A date (or time), given as ISO 8601 text, within DATE_MIN_YEAR..DATE_MAX_YEAR."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        checked = core_schema.no_info_after_validator_function(_sane_year, handler(source))
        return core_schema.no_info_before_validator_function(_as_text, checked)


_NON_BLANK = StringConstraints(strip_whitespace=True, min_length=1)

Line = Annotated[str, _NON_BLANK, Clean(), Bounded("line")]
"""One line of text (a name, a title, a letter number); not blank."""
Note = Annotated[str, Clean(multiline=True), Bounded("note")]
"""Several lines (an instruction, a reason, a message)."""
FilledNote = Annotated[str, _NON_BLANK, Clean(multiline=True), Bounded("note")]
"""Several lines, not blank."""
Body = Annotated[str, Clean(multiline=True), Bounded("body")]
"""A long text: a press release."""
Ref = Annotated[str, _NON_BLANK, Clean(), Bounded("ref")]
"""A reference to a document or a URL."""
Key = Annotated[str, _NON_BLANK, Clean(), Bounded("key")]
"""An id, such as a kelengkapan id."""
InputRef = Annotated[str, Clean(), Bounded("ref")]
"""The reference given for a kelengkapan (blank counts as not given: the step says which)."""
Inputs = Annotated[
    dict[Key, InputRef],
    Bounded("items"),
    Field(description="kelengkapan id -> reference or note, for every required input of the step"),
]
OfficeDate = Annotated[date, SaneYear()]
"""A calendar date within DATE_MIN_YEAR..DATE_MAX_YEAR."""
OfficeDateTime = Annotated[datetime, SaneYear()]
"""An instant within DATE_MIN_YEAR..DATE_MAX_YEAR."""


ID_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]+$"
"""An id in a path or query: any characters but control characters (NUL included)."""
