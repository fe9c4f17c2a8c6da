"""Fixtures of the published-contract tests: the official AsyncAPI CLI, installed once.

`@asyncapi/cli` comes from npm into .tools/asyncapi/ (gitignored) and is reused while its
version matches CLI_VERSION, so only the first run pays for the install (about two
minutes). Without npm the validation test skips, except under CI=true, where it fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI_VERSION = "4.1.1"
TOOLS = ROOT / ".tools" / "asyncapi"
NPM_FLAGS = ("--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--prefer-offline")


def _installed() -> Path | None:
    exe = TOOLS / "node_modules" / ".bin" / "asyncapi"
    package = TOOLS / "node_modules" / "@asyncapi" / "cli" / "package.json"
    current = exe.exists() and package.exists()
    if current and json.loads(package.read_text())["version"] == CLI_VERSION:
        return exe
    return None


def _missing(what: str) -> None:
    reason = f"{what}: cannot install @asyncapi/cli to validate docs/asyncapi.yaml"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def asyncapi_cli() -> Iterator[list[str]]:
    """The command prefix running the official AsyncAPI CLI, installed if needed."""
    if shutil.which("node") is None:
        _missing("node is not on PATH")
    TOOLS.mkdir(parents=True, exist_ok=True)
    with (TOOLS / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs must not install at once
        exe = _installed()
        if exe is None:
            npm = shutil.which("npm")
            if npm is None:
                _missing("npm is not on PATH")
            subprocess.run(
                [
                    str(npm),
                    "install",
                    "--prefix",
                    str(TOOLS),
                    *NPM_FLAGS,
                    f"@asyncapi/cli@{CLI_VERSION}",
                ],
                check=True,
                timeout=900,
            )
            exe = _installed()
            assert exe is not None, f"npm installed no asyncapi binary under {TOOLS}"
    # The CLI sends usage metrics unless its config file says not to: keep it local and off.
    analytics = TOOLS / "analytics.json"
    analytics.write_text(
        json.dumps({"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "ci"})
    )
    os.environ["ASYNCAPI_METRICS_CONFIG_PATH"] = str(analytics)
    yield [str(exe)]
