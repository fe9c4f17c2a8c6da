#!/usr/bin/env python3
"""Run prokopim from a fresh clone with nothing but Python 3.11+ (stdlib only, POSIX).

    python3 dev.py up [args...]     # .venv/bin/prokopim up args...
    python3 dev.py test [args...]   # .venv/bin/pytest args...
    python3 dev.py check            # ruff, the formatter check and mypy --strict

First makes sure .tools/ (a venv holding uv) exists, then syncs .venv/ with
`uv sync --all-packages` (--frozen when uv.lock exists) using this Python interpreter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
UV = TOOLS / "bin" / "uv"
COMMANDS = {"up": ["prokopim", "up"], "test": ["pytest"]}
SOURCES = ("libs/*/src", "services/*/src", "cli/src")  # the workspace's editable packages


def run(*cmd: str | Path) -> None:
    print("+", *cmd, file=sys.stderr, flush=True)
    result = subprocess.run([str(c) for c in cmd], cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def bootstrap() -> None:
    if not UV.exists():
        venv.create(TOOLS, with_pip=True)
        run(
            TOOLS / "bin" / "python",
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "uv",
        )
    os.environ["UV_PYTHON_DOWNLOADS"] = "never"
    frozen = ["--frozen"] if (ROOT / "uv.lock").exists() else []
    # Bytecode compiled once here, not by every process at every start: with
    # PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing is ever cached otherwise, and
    # each service compiled its imports anew (~0.9 s of CPU per process start; a test starts
    # six at once). Our own packages are editable installs: their sources are compiled too.
    run(UV, "sync", "--all-packages", "--compile-bytecode", "--python", sys.executable, *frozen)
    sources = [str(path) for pattern in SOURCES for path in sorted(ROOT.glob(pattern))]
    run(ROOT / ".venv" / "bin" / "python", "-m", "compileall", "-q", "-j", "0", *sources)


def check() -> None:
    """Lint, format check and strict type check; exit non-zero at the first that fails."""
    venv_bin = ROOT / ".venv" / "bin"
    run(venv_bin / "ruff", "check", ".")
    run(venv_bin / "ruff", "format", "--check", ".")
    # What mypy checks (every Python file) and how it names the test modules is set in
    # pyproject.toml's [tool.mypy]; its cache (.mypy_cache/) makes a second run quick.
    run(venv_bin / "mypy")


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 -- dev.py runs on any system python3
        sys.exit("prokopim needs Python 3.11 or newer")
    if len(sys.argv) < 2 or sys.argv[1] not in {*COMMANDS, "check"}:
        sys.exit(f"usage: python3 {Path(__file__).name} {{up|test|check}} [args...]")
    bootstrap()
    if sys.argv[1] == "check":
        check()
        return
    program, *fixed = COMMANDS[sys.argv[1]]
    exe = str(ROOT / ".venv" / "bin" / program)
    os.chdir(ROOT)
    os.execv(exe, [exe, *fixed, *sys.argv[2:]])  # its exit code is ours


if __name__ == "__main__":
    main()
