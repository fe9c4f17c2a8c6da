"""What `prokopim demo` shows after a case: the ledger's step attempts against the standards."""

from __future__ import annotations

import pytest
from prokopim_cli.flows import run_case
from prokopim_cli.sla import case_sla, format_sla
from prokopim_kit.auth import issue_token
from prokopim_sop import load_catalog

from .conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TANGERANG = load_catalog().get("tgr-58-2025")


async def test_the_ledger_shows_every_attempt_of_a_case_against_its_standard(
    system: System,
) -> None:
    run = await run_case(system.driver, TANGERANG, activity="Rapat Paripurna", reject={5: 1})
    token = issue_token(system.secret, subject="auditor", role="kepala-bagian")

    view = await case_sla(system.running.urls["ledger"], str(run.case_id), token)
    table = format_sla(view).splitlines()

    # steps 1-7 once, plus step 4 and 5 again after the rejection at step 5
    attempts = [(a["step"], a["attempt"]) for a in view["attempts"]]
    assert attempts == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (4, 2), (5, 2), (6, 1), (7, 1)]
    assert len(table) == 1 + len(attempts) + 1
    assert table[5].split()[:3] == ["5", "1", "ketua-tim"] and table[5].endswith("rejected")
    assert table[-1].startswith("case: ") and "of 6h20m working time" in table[-1]
    assert "1 rework loop(s)" in table[-1]
