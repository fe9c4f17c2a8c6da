"""The SLA fold: step attempts measured in working time against each step's standard."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from prokopim_ledger.sla import CaseSla, Fact, Status, fold_case, status_of
from prokopim_sop import load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.unit

WIB = ZoneInfo("Asia/Jakarta")
CATALOG = load_catalog()
CAL = WorkingCalendar()
TGR = ("tgr-58-2025", "2025.1")
BDG = ("bdg-setda-010-2024", "2024.1")


class Case:
    """Builds a case's step-completing facts in order."""

    def __init__(self, sop: tuple[str, str] = TGR) -> None:
        self.case_id = uuid.uuid4()
        self.sop = sop
        self.facts: list[Fact] = []

    def done(
        self,
        when: str,
        step: int,
        next_step: int | None,
        decision: str | None = None,
        reason: str | None = None,
        staff: tuple[tuple[str, str], ...] = (),
    ) -> Case:
        self.facts.append(
            Fact(
                position=len(self.facts) + 1,
                case_id=self.case_id,
                type="test",
                occurred_at=datetime.fromisoformat(when).replace(tzinfo=WIB),
                sop_id=self.sop[0],
                sop_version=self.sop[1],
                step=step,
                next_step=next_step,
                decision=decision,
                reason=reason,
                actor_id=f"actor-{step}",
                assignments=staff,
            )
        )
        return self

    def fold(self) -> CaseSla:
        return fold_case(self.facts, CATALOG, CAL)


def test_a_step_finished_inside_its_standard_is_on_time() -> None:
    sla = Case().done("2025-05-07T09:00", 1, 2).done("2025-05-07T09:10", 2, 3).fold()
    first, second, third = sla.attempts
    assert (first.step, first.working_seconds, first.status) == (1, 0, Status.ON_TIME)
    assert (second.step, second.working_seconds, second.status) == (2, 600, Status.ON_TIME)
    assert second.completed_by == "actor-2" and second.outcome == "completed"
    assert third.open and third.step == 3 and third.standard_seconds == 30 * 60
    assert sla.closed_at is None


def test_a_step_finished_at_80_percent_is_at_risk() -> None:
    # Tangerang step 2 has 30 minutes; 24 minutes is 80 %
    sla = Case().done("2025-05-07T09:00", 1, 2).done("2025-05-07T09:24", 2, 3).fold()
    step2 = sla.attempts[1]
    assert step2.working_seconds == 24 * 60
    assert step2.status is Status.AT_RISK
    step3 = sla.attempts[2]  # running: its deadlines are what the live check waits for
    assert step3.open and step2.at_risk_at is None
    assert step3.at_risk_at == datetime(2025, 5, 7, 9, 46, 30, tzinfo=WIB)
    assert step3.breach_at == datetime(2025, 5, 7, 9, 54, tzinfo=WIB)


def test_a_step_breached_across_a_weekend_and_a_public_holiday() -> None:
    # Bandung step 3 (10 minutes, Ka. Tim Dokpim), entered Friday 15:55 before Vesak
    # (Mon 12 May 2025) and its joint leave day, finished Wednesday 08:10: 15 working minutes.
    case = Case(BDG).done("2025-05-09T15:40", 1, 2).done("2025-05-09T15:55", 2, 3)
    running = case.fold().attempts[2]
    assert running.breach_at == datetime(2025, 5, 14, 8, 5, tzinfo=WIB)
    assert running.at_risk_at == datetime(2025, 5, 14, 8, 2, 30, tzinfo=WIB)
    sla = case.done("2025-05-14T08:10", 3, 4).fold()
    step3 = sla.attempts[2]
    assert step3.working_seconds == 15 * 60
    assert step3.status is Status.BREACHED
    assert step3.role == "ka-tim-dokpim"


def test_breaches_are_attributed_to_the_role_and_the_staff_assigned() -> None:
    staff = (("Budi", "penata-liputan"), ("Sari", "koordinator-kpp"))
    case = Case(BDG).done("2025-05-07T08:00", 1, 2).done("2025-05-07T08:05", 2, 3)
    case.done("2025-05-07T08:10", 3, 4).done("2025-05-07T08:20", 4, 5)
    case.done("2025-05-07T08:25", 5, 6, staff=staff).done("2025-05-07T10:00", 6, 7)
    step6 = case.fold().attempts[5]
    assert (step6.step, step6.working_seconds, step6.status) == (6, 95 * 60, Status.BREACHED)
    assert (step6.role, step6.assignees) == ("penata-liputan", ("Budi",))


def test_a_rework_loop_is_measured_per_attempt_and_summed() -> None:
    case = Case().done("2025-05-07T08:00", 1, 2).done("2025-05-07T08:10", 2, 3)
    case.done("2025-05-07T08:20", 3, 4).done("2025-05-07T10:00", 4, 5)
    case.done("2025-05-07T10:20", 5, 4, decision="rejected", reason="foto buram")
    case.done("2025-05-07T11:00", 4, 5)  # coverage reworked: 40 minutes
    case.done("2025-05-07T11:10", 5, 6, decision="approved")
    case.done("2025-05-07T11:30", 6, 5, decision="rejected", reason="judul salah")
    case.done("2025-05-07T11:35", 5, 6, decision="approved")
    case.done("2025-05-07T11:45", 6, 7, decision="approved")
    sla = case.done("2025-05-07T12:00", 7, None).fold()
    by_step: dict[int, list[tuple[int, float | None, str | None]]] = {}
    for a in sla.attempts:
        by_step.setdefault(a.step, []).append((a.attempt, a.working_seconds, a.outcome))
    assert by_step[4] == [(1, 100 * 60, "completed"), (2, 40 * 60, "completed")]
    assert by_step[5] == [
        (1, 20 * 60, "rejected"),
        (2, 10 * 60, "approved"),
        (3, 5 * 60, "approved"),
    ]
    assert by_step[6] == [(1, 20 * 60, "rejected"), (2, 10 * 60, "approved")]
    rejected = [a for a in sla.attempts if a.outcome == "rejected"]
    assert [a.reason for a in rejected] == ["foto buram", "judul salah"]
    assert sla.rework_loops == 2
    assert sla.closed_at == datetime(2025, 5, 7, 12, 0, tzinfo=WIB)
    # the case total is every attempt summed: 08:00 to 12:00, against 380 minutes
    assert sla.working_seconds == 4 * 3600
    assert sla.standard_seconds == 380 * 60
    assert sla.status is Status.ON_TIME  # 240 of 380 minutes is 63 %


def test_status_thresholds() -> None:
    assert status_of(449, 600) is Status.ON_TIME
    assert status_of(450, 600) is Status.AT_RISK
    assert status_of(600, 600) is Status.AT_RISK
    assert status_of(601, 600) is Status.BREACHED


def test_the_fold_ignores_arrival_order() -> None:
    case = Case().done("2025-05-07T08:00", 1, 2).done("2025-05-07T08:10", 2, 3)
    assert fold_case(reversed(case.facts), CATALOG, CAL) == case.fold()


def test_a_cancellation_stops_the_running_clock_and_closes_the_case() -> None:
    case = Case().done("2025-03-03 09:00", 1, 2).done("2025-03-03 09:10", 2, 3)
    # Fact.step is typed int, yet a cancellation's is None (as the ledger reads it)
    case.done("2025-03-03 09:40", None, None, "cancelled", "Acara dibatalkan")  # type: ignore[arg-type]

    sla = case.fold()

    cancelled = sla.attempts[-1]
    assert (cancelled.step, cancelled.outcome, cancelled.reason) == (
        3,
        "cancelled",
        "Acara dibatalkan",
    )
    assert cancelled.working_seconds == 30 * 60
    assert not any(a.open for a in sla.attempts)
    assert sla.closed_at == datetime(2025, 3, 3, 9, 40, tzinfo=WIB)
