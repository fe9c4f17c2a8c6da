"""Helpers of the operator tooling tests: run `prokopim` as an operator would, poll a condition."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

PROKOPIM = str(Path(sys.executable).parent / "prokopim")


@dataclass(frozen=True)
class Ran:
    """What a `prokopim` command printed and how it exited."""

    code: int
    out: str
    err: str


async def prokopim(*args: str, env: dict[str, str] | None = None) -> Ran:
    """Run the `prokopim` command in its own process (the test's loop keeps running)."""
    process = await asyncio.create_subprocess_exec(
        PROKOPIM,
        *args,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


async def wait_until(condition: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    """Poll `condition` until it holds; fail naming `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting until {what}")
        await asyncio.sleep(0.05)


class _Servers(Protocol):  # prokopim_devstack.infra.Infra
    database_url: str
    nats_url: str


@pytest.fixture
def nats_url(infra: _Servers) -> str:
    """The test NATS server."""
    return infra.nats_url
