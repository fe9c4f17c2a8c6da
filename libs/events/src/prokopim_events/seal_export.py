"""Seal heads kept outside the database: an append-only file of JSON lines.

A writer of the database who deletes the newest events together with the seals that cover
them leaves a store that is consistent in itself. The seal heads written here as each seal
is made (by the sealer, a process the database writer does not control) say how far the
store had been sealed and with which hash; `prokopim verify --seal-heads FILE` compares
them with the seals left in the database. Back the file up, or ship it off the machine
(a log collector, WORM storage): it is only as safe as the place it is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from .verify_checks import SEAL_BROKEN, SEAL_GONE, Problem


@dataclass(frozen=True)
class SealHead:
    """What a seal committed to: its number, range and hash (and the key it was made with)."""

    seal_number: int
    first_position: int
    last_position: int
    seal_hash: bytes
    key_id: str | None


def append_heads(path: Path, heads: Iterable[SealHead]) -> None:
    """Append heads to the file, one JSON line each, and flush them to disk."""
    lines = b"".join(
        orjson.dumps(
            {
                "seal_number": h.seal_number,
                "first_position": h.first_position,
                "last_position": h.last_position,
                "seal_hash": h.seal_hash.hex(),
                "key_id": h.key_id,
            }
        )
        + b"\n"
        for h in heads
    )
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, lines)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_heads(path: Path) -> Iterator[SealHead]:
    """Yield the heads recorded in the file, in the order written (a torn last line skipped)."""
    with path.open("rb") as lines:
        for line in lines:
            if not line.endswith(b"\n"):
                return  # a write cut short by a crash: the seal is still in the database
            record = orjson.loads(line)
            yield SealHead(
                record["seal_number"],
                record["first_position"],
                record["last_position"],
                bytes.fromhex(record["seal_hash"]),
                record.get("key_id"),
            )


def check_heads(
    heads: Iterable[SealHead], stored: dict[int, tuple[int, int, bytes]]
) -> Iterator[Problem]:
    """Compare exported heads with the seals in the database (number -> first, last, hash)."""
    for head in heads:
        found = stored.get(head.seal_number)
        where = f"seal {head.seal_number} (positions {head.first_position}-{head.last_position})"
        if found is None:
            yield Problem(
                SEAL_GONE,
                head.first_position,
                None,
                None,
                f"{where} was exported but is not in the database: it and the events it"
                " sealed were removed",
                events=head.last_position - head.first_position + 1,
            )
        elif found != (head.first_position, head.last_position, head.seal_hash):
            yield Problem(
                SEAL_BROKEN,
                head.first_position,
                None,
                None,
                f"{where} differs from its exported head",
            )
