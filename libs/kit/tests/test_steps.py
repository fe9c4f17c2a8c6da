"""The common step rules: order, then role, then inputs, each naming what is at fault."""

from __future__ import annotations

import pytest
from prokopim_kit.errors import MissingInputs, StepOutOfOrder, WrongRole
from prokopim_kit.steps import guard_step
from prokopim_sop import Sop, StepKind, load_catalog

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def bandung() -> Sop:
    return load_catalog().get("bdg-setda-010-2024")


def kind_of(sop: Sop, number: int) -> StepKind:
    return sop.step(number).kind


def test_a_command_for_a_later_step_names_that_step_and_the_awaited_one(bandung: Sop) -> None:
    recording = kind_of(bandung, 6)
    with pytest.raises(StepOutOfOrder) as refused:
        guard_step(bandung, 4, [recording], bandung.step(6).role)
    assert refused.value.details == {"attempted_step": 6, "awaiting_step": 4}
    assert "step 6 is out of order" in str(refused.value)


def test_the_wrong_role_is_named_with_the_role_the_step_needs(bandung: Sop) -> None:
    step = bandung.step(2)
    with pytest.raises(WrongRole) as refused:
        guard_step(bandung, 2, [step.kind], "penata-liputan")
    assert step.role in str(refused.value)


def test_missing_inputs_are_named(bandung: Sop) -> None:
    step = bandung.step(2)
    with pytest.raises(MissingInputs) as refused:
        guard_step(bandung, 2, [step.kind], step.role, {})
    assert [item.id for item in step.inputs] == refused.value.details["missing_inputs"]
