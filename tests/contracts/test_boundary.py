"""Published contracts are a boundary: nothing undeclared goes out, old events still read.

Building a contract with a field it does not declare fails, nested types included; the
reading side (`parse`) ignores a field a newer publisher added, and every event shape
prokopim ever stored (the samples, production's rework openings) still reads.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prokopim_events.contracts import (
    CONTRACTS,
    ProductionStepOpened,
    RequestReceived,
    audience,
    parse,
)
from prokopim_events.samples import sample_data
from prokopim_events.schema_snapshots import load_snapshots
from pydantic import ValidationError

pytestmark = pytest.mark.unit

BANDUNG = {"sop_id": "bdg-setda-010-2024", "sop_version": "2024.1"}
CASE: dict[str, Any] = {
    "letter_number": "800/1",
    "requester": {"name": "Siti", "agency": "Diskominfo"},
    "subject": "Tapping",
    "activity_name": "HUT Kota",
    "activity_date": "2025-05-25",
}


def received(**extra: Any) -> dict[str, Any]:
    data = {"case_id": str(uuid.uuid4()), **BANDUNG, "step": 1, "next_step": 2, "case": CASE}
    return data | extra


def test_a_contract_refuses_a_field_it_does_not_declare() -> None:
    with pytest.raises(ValidationError, match="rejection_note"):
        RequestReceived.model_validate(received(rejection_note="x"))
    with pytest.raises(ValidationError, match="nickname"):
        RequestReceived.model_validate(received(case=CASE | {"nickname": "x"}))


def test_reading_ignores_a_field_a_newer_publisher_added() -> None:
    data = received(priority="high", case=CASE | {"room": "Aula"})
    contract = parse(RequestReceived.TYPE, data)
    assert isinstance(contract, RequestReceived)
    assert "priority" not in contract.model_dump() and contract.case.activity_name == "HUT Kota"


def test_a_rework_opening_stored_before_its_fields_were_declared_still_reads() -> None:
    # production.step-opened.v1 carried these two fields undeclared until they were declared
    stored = sample_data(ProductionStepOpened.TYPE) | {
        "reason": "rework",
        "rejection_reason": "audio pecah",
        "rejected_by": "kpp-1",
    }
    opened = ProductionStepOpened.model_validate(stored)  # strictly: both are declared now
    assert (opened.rejection_reason, opened.rejected_by) == ("audio pecah", "kpp-1")


@pytest.mark.parametrize("event_type", list(CONTRACTS))
def test_every_sample_event_is_valid_without_undeclared_fields(event_type: str) -> None:
    CONTRACTS[event_type].model_validate(sample_data(event_type))


def test_every_snapshot_closes_the_data_to_undeclared_fields() -> None:
    open_types = [
        t
        for t, schema in load_snapshots().items()
        if schema.get("additionalProperties") is not False
    ]
    assert open_types == []


def test_the_catalog_says_which_types_are_public_and_which_internal() -> None:
    internal = sorted(t for t in CONTRACTS if audience(t) == "internal")
    assert internal == sorted(
        [
            "prokopim.scheduling.step-opened.v1",
            "prokopim.production.step-opened.v1",
            "prokopim.production.equipment-prepared.v1",
            "prokopim.review.step-opened.v1",
            "prokopim.publishing.step-opened.v1",
            "prokopim.publishing.media-outlet-registered.v1",
            "prokopim.publishing.publication-ordered.v1",
            "prokopim.publishing.outlet-mailed.v1",
            "prokopim.publishing.outlet-mail-failed.v1",
            "prokopim.scheduling.invitation-mailed.v1",
            "prokopim.scheduling.invitation-mail-failed.v1",
            "prokopim.publishing.handover-notice-mailed.v1",
            "prokopim.publishing.handover-notice-mail-failed.v1",
            "prokopim.publishing.media-outlet-updated.v1",
            "prokopim.publishing.media-outlet-deactivated.v1",
        ]
    )
