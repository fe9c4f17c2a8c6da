"""Synthetic cases must be what the services really publish, or benchmarks measure fiction."""

from __future__ import annotations

import itertools
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from prokopim_events.contracts import CONTRACTS, StepCompleted, parse
from prokopim_ledger.samples import sample_case
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.unit

START = datetime(2025, 5, 7, 8, 30, tzinfo=ZoneInfo("Asia/Jakarta"))


@pytest.mark.parametrize("sop_id", ["bdg-setda-010-2024", "tgr-58-2025"])
def test_sample_cases_follow_the_contracts_and_the_sop(sop_id: str) -> None:
    sop = load_catalog().get(sop_id)
    rng = random.Random(7)
    rejected = 0
    for _ in range(30):
        case_id, events = sample_case(sop, rng, START, WorkingCalendar(), reject_rate=0.5)
        steps = []
        for stream, event in events:
            assert event.type in CONTRACTS, event.type
            contract = parse(event.type, event.data)
            assert stream == f"{event.type.split('.')[1]}-{case_id}"
            if isinstance(contract, StepCompleted):
                steps.append((contract.step, contract.next_step))
        assert steps[0][0] == 1 and steps[-1][1] is None
        for (_, next_step), (step, _) in itertools.pairwise(steps):
            assert step == next_step
        times = [event.occurred_at for _, event in events]
        assert times == sorted(times)
        rejected += sum(1 for _, e in events if e.type.endswith("draft-rejected.v1"))
    assert rejected > 0
