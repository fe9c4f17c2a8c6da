"""A failing test's report ends with the process logs it left under its `tmp_path`.

The e2e, ops and fault tests start the services as processes that log to files in the
test's temporary directory (`prokopim_cli.system.start_system`). When such a test fails on
a CI machine, those files are gone with the machine: the report carries their last lines,
so a hand-over that never happened says which process stopped it and why.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest

TAIL_LINES = 60  # per log file
MAX_FILES = 12
MAX_LINE = 600  # characters: JSON log lines with a traceback can be long


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last `lines` lines of a log, each cut to MAX_LINE characters."""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join(line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …" for line in text)


def log_sections(tmp_path: Path) -> list[tuple[str, str]]:
    """A report section for each `*.log` under `tmp_path`, oldest write first."""
    logs = sorted(tmp_path.rglob("*.log"), key=lambda path: path.stat().st_mtime)
    return [(f"process log {path.relative_to(tmp_path)}", tail(path)) for path in logs[-MAX_FILES:]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when == "call":
        tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
        if isinstance(tmp_path, Path) and tmp_path.is_dir():
            report.sections.extend(log_sections(tmp_path))
    return report
