"""Which events hand a case over to a service, also when that service lacks the case's SOP."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from prokopim_events.contracts import CaseFile, DispositionGiven, Requester, SchedulingStepOpened
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_kit.handover import handover_to, routed
from prokopim_sop import Service, SopCatalog, UnknownSop, load_catalog

CATALOG = load_catalog()
TANGERANG = CATALOG.get("tgr-58-2025")
WITHOUT_TANGERANG = SopCatalog(sop for sop in CATALOG if sop.id != TANGERANG.id)
CASE = CaseFile(
    letter_number="800/1",
    requester=Requester(name="Siti", agency="Diskominfo"),
    subject="Liputan",
    activity_name="HUT Kota",
    activity_date=date(2026, 5, 25),
)


def stored(event_type: str, data: dict[str, Any]) -> StoredEvent:
    now = datetime.now(UTC)
    return StoredEvent(
        event_id=uuid.uuid4(),
        stream_id="intake-x",
        stream_version=1,
        global_position=1,
        type=event_type,
        occurred_at=now,
        recorded_at=now,
        actor=Actor(id="kabag-1", role="kepala-bagian"),
        correlation_id=uuid.uuid4(),
        data=data,
    )


def disposition() -> DispositionGiven:
    """Intake's step 2 of a Tangerang case, handing it to scheduling (step 3)."""
    (given,) = routed(
        [
            DispositionGiven(
                case_id=uuid.uuid4(),
                sop_id=TANGERANG.id,
                sop_version=TANGERANG.version,
                step=2,
                next_step=3,
                case=CASE,
                instruction="Liput",
            )
        ],
        TANGERANG,
    )
    assert isinstance(given, DispositionGiven)
    return given


def test_a_completed_step_names_the_service_of_its_next_step() -> None:
    assert disposition().next_service == "scheduling"


def test_a_hand_over_to_another_service_is_ignored_without_its_sop() -> None:
    given = disposition()
    event = stored(given.TYPE, given.model_dump(mode="json"))

    # production, lacking Tangerang, has nothing to do with a case going to scheduling
    assert handover_to(Service.PRODUCTION, WITHOUT_TANGERANG, event) is None
    # the service it goes to, lacking the SOP, refuses it: a dead letter an operator sees
    with pytest.raises(UnknownSop):
        handover_to(Service.SCHEDULING, WITHOUT_TANGERANG, event)
    handover = handover_to(Service.SCHEDULING, CATALOG, event)
    assert handover is not None and handover.step == 3


def test_a_hand_over_stored_before_next_service_still_needs_its_sop() -> None:
    data = disposition().model_dump(mode="json")
    del data["next_service"]
    event = stored(DispositionGiven.TYPE, data)

    assert handover_to(Service.PRODUCTION, CATALOG, event) is None
    with pytest.raises(UnknownSop):  # it may be production's: cannot tell without the SOP
        handover_to(Service.PRODUCTION, WITHOUT_TANGERANG, event)


def test_an_event_that_completes_no_step_is_not_read() -> None:
    # another service's step opening, in a shape this build cannot read: none of ours
    event = stored(SchedulingStepOpened.TYPE, {"case_id": "not a uuid"})

    assert handover_to(Service.PRODUCTION, WITHOUT_TANGERANG, event) is None
