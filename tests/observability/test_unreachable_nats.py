"""A process whose NATS does not answer stops soon, saying which setting to check."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from prokopim_events.nats_connection import NatsUnreachable, connect_nats
from prokopim_testing.ports import free_port

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


async def test_connect_nats_gives_up_naming_the_setting_without_the_password() -> None:
    url = f"nats://ops:hunter2@127.0.0.1:{free_port()}"
    with pytest.raises(NatsUnreachable) as failed:
        await connect_nats(url, 0.5)
    message = str(failed.value)
    assert message.startswith("NATS_URL nats://ops:***@127.0.0.1:")
    assert "no NATS server answered within 0.5 s (NATS_CONNECT_TIMEOUT_SECONDS)" in message
    assert "hunter2" not in message
    with pytest.raises(NatsUnreachable, match=r"NATS_URL nats://\*\*\*@127.0.0.1:"):
        await connect_nats(f"nats://s3cr3t-token@127.0.0.1:{free_port()}", 0.2)


@pytest.mark.parametrize("program", ["prokopim-relay", "prokopim-intake"])
def test_a_process_without_nats_exits_naming_nats_url(program: str, database_url: str) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "NATS_URL": nowhere,
        "NATS_CONNECT_TIMEOUT_SECONDS": "1",
        "JWT_SECRET": secrets.token_urlsafe(40),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "METRICS_PORT": "0",
    }
    # nats-py on its own would keep trying for about two minutes
    done = subprocess.run([str(BIN / program)], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert f"NATS_URL {nowhere}: no NATS server answered within 1 s" in done.stderr
