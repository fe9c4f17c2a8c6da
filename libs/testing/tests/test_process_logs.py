"""A failing test's report carries the logs its processes left; a passing one's does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

INNER = """
import pytest

def test_fails(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "relay.log").write_text("".join(f"relay line {n}\\n" for n in range(200)))
    (logs / "scheduling.log").write_text('{"message": "retrying in 30 s"}\\n' + "x" * 5000)
    assert False, "scheduling never opened step 3"

def test_passes(tmp_path):
    (tmp_path / "quiet.log").write_text("nothing to see")
"""


@pytest.mark.unit
def test_a_failing_test_report_ends_with_the_tails_of_its_process_logs(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "prokopim_testing.process_logs",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_inner.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout
    assert run.returncode == 1, out
    assert "process log logs/relay.log" in out and "process log logs/scheduling.log" in out
    assert "relay line 199" in out and "relay line 140" in out
    assert "relay line 139" not in out  # the tail, not the whole file
    assert "retrying in 30 s" in out and "x" * 5000 not in out  # long lines are cut
    assert "nothing to see" not in out  # a passing test's logs stay out of the report
