"""The bundled SOPs load as the seeds describe, and malformed definitions are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prokopim_sop import (
    Service,
    SopDefinitionError,
    StepKind,
    UnknownRole,
    UnknownSop,
    UnknownStep,
    bundled_definitions_dir,
    load_catalog,
    load_sop,
)

pytestmark = pytest.mark.unit

BANDUNG = bundled_definitions_dir() / "bandung-tapping-video.yaml"
TANGERANG = bundled_definitions_dir() / "tangerang-liputan-agenda.yaml"

Mutation = Callable[[dict[str, Any]], None]


def write_variant(tmp_path: Path, mutate: Mutation, name: str = "tangerang.yaml") -> Path:
    """Write a copy of the Tangerang definition with one thing changed."""
    data = yaml.safe_load(TANGERANG.read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(SopDefinitionError) as caught:
        load_sop(path)
    assert caught.value.path == path
    return str(caught.value)


def step(data: dict[str, Any], number: int) -> dict[str, Any]:
    found: dict[str, Any] = data["steps"][number - 1]
    return found


# -- the bundled definitions ---------------------------------------------------------------


def test_bandung_loads_with_ten_steps_in_the_domain_mapping() -> None:
    sop = load_sop(BANDUNG)

    assert sop.id == "bdg-setda-010-2024"
    assert len(sop.steps) == 10
    assert [s.kind for s in sop.steps] == [
        StepKind.RECEIVE_REQUEST,
        StepKind.DISPOSITION,
        StepKind.COORDINATE_SCHEDULE,
        StepKind.NOTIFY_REQUESTER,
        StepKind.ASSIGN_STAFF,
        StepKind.RECORD,
        StepKind.EDIT,
        StepKind.REVIEW,
        StepKind.REVIEW,
        StepKind.HAND_OVER,
    ]
    assert [s.role for s in sop.steps] == [
        "pengadministrasi-umum",
        "ka-bagian",
        "ka-tim-dokpim",
        "koordinator-kpp",
        "ka-tim-dokpim",
        "penata-liputan",
        "penata-liputan",
        "koordinator-kpp",
        "ka-bagian",
        "ka-bagian",
    ]
    assert sop.step(10).archivist_role == "pengadministrasi-umum"
    assert sop.role("pengadministrasi-umum").name == "Pengadministrasi Umum"
    assert "nama kegiatan dan tanggal kegiatan" in sop.records_rule


def test_bandung_reviews_reject_back_to_seven_and_eight() -> None:
    sop = load_sop(BANDUNG)

    assert [(s.number, s.on_reject) for s in sop.steps_of(Service.REVIEW)] == [(8, 7), (9, 8)]


def test_bandung_notifying_the_requester_takes_a_working_day_not_minutes() -> None:
    sop = load_sop(BANDUNG)

    assert sop.step(4).standard_working_days == 1
    assert sop.step(4).standard_minutes is None
    assert sop.step(6).standard_minutes == 60
    assert [i.id for i in sop.step(6).inputs] == [
        "video-recorder",
        "tripod",
        "mic",
        "lighting",
        "teleprompter",
    ]
    assert sop.standard_minutes_total == 210


def test_tangerang_loads_with_seven_steps_totalling_380_minutes() -> None:
    sop = load_sop(TANGERANG)

    assert sop.id == "tgr-58-2025"
    assert len(sop.steps) == 7
    assert sop.total_standard_minutes == 380
    assert sop.standard_minutes_total == 380
    assert [(s.number, s.on_reject) for s in sop.steps_of("review")] == [(5, 4), (6, 5)]
    assert [o.id for o in sop.step(4).outputs] == ["press-release", "photos", "video"]


def test_approval_moves_to_the_next_step_and_ends_after_the_last() -> None:
    sop = load_sop(TANGERANG)

    assert sop.next_after(1) == 2
    assert sop.next_after(6) == 7
    assert sop.next_after(7) is None


def test_each_service_finds_where_it_takes_over() -> None:
    sop = load_sop(BANDUNG)

    firsts = {service: sop.first_step_of(service).number for service in Service}

    assert firsts == {
        Service.INTAKE: 1,
        Service.SCHEDULING: 3,
        Service.PRODUCTION: 6,
        Service.REVIEW: 8,
        Service.PUBLISHING: 10,
    }
    assert sop.last_step_of(Service.SCHEDULING).number == 5


def test_unknown_step_and_role_are_named_errors() -> None:
    sop = load_sop(TANGERANG)

    with pytest.raises(UnknownStep, match="no step 8"):
        sop.step(8)
    with pytest.raises(UnknownRole, match="penata-liputan"):
        sop.role("penata-liputan")


def test_models_are_immutable() -> None:
    sop = load_sop(TANGERANG)

    with pytest.raises(ValueError, match="frozen"):
        sop.step(1).role = "ketua-tim"  # type: ignore[misc]  # frozen: the refusal is tested


# -- the catalog ---------------------------------------------------------------------------


def test_default_catalog_serves_both_bundled_sops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROKOPIM_SOP_DIR", raising=False)

    catalog = load_catalog()

    assert catalog.ids == ["bdg-setda-010-2024", "tgr-58-2025"]
    assert catalog.get("tgr-58-2025", "2025.1").city == "Tangerang"
    with pytest.raises(UnknownSop, match="no-such-sop"):
        catalog.get("no-such-sop")
    with pytest.raises(UnknownSop, match=r"known versions: 2025\.1"):
        catalog.get("tgr-58-2025", "1999")


def test_env_dir_adds_a_newer_version_served_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def newer_with_other_reviewer(data: dict[str, Any]) -> None:
        data["version"] = "2025.2"
        step(data, 5)["role"] = "kepala-bagian"

    write_variant(tmp_path, newer_with_other_reviewer)
    monkeypatch.setenv("PROKOPIM_SOP_DIR", str(tmp_path))

    catalog = load_catalog()

    assert catalog.versions("tgr-58-2025") == ["2025.1", "2025.2"]
    assert catalog.get("tgr-58-2025").step(5).role == "kepala-bagian"
    assert catalog.get("tgr-58-2025", "2025.1").step(5).role == "ketua-tim"


def test_same_id_and_version_twice_is_refused(tmp_path: Path) -> None:
    write_variant(tmp_path, lambda data: None, name="a.yaml")
    write_variant(tmp_path, lambda data: None, name="b.yaml")

    with pytest.raises(SopDefinitionError, match=r"b\.yaml: version: .*already defined"):
        load_catalog(tmp_path)


# -- malformed definitions -----------------------------------------------------------------


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 3).update(role="ketua-regu"))

    assert "tangerang.yaml: step 3: role: unknown role 'ketua-regu'" in refusal(path)


def test_rejection_to_a_later_step_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 5).update(on_reject=6))

    assert refusal(path) == (
        "tangerang.yaml: step 5: on_reject: must point to an earlier step (got 6)"
    )


def test_review_without_rejection_target_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 6).pop("on_reject"))

    assert "tangerang.yaml: step 6: on_reject: a review step must say" in refusal(path)


def test_rejection_outside_review_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 4).update(on_reject=3))

    assert "tangerang.yaml: step 4: on_reject: only review steps can reject" in refusal(path)


def test_kind_of_another_service_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 7).update(kind="review"))

    assert refusal(path) == (
        "tangerang.yaml: step 7: kind: kind 'review' belongs to service 'review', not 'publishing'"
    )


def test_missing_field_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 2).pop("standard"))

    assert refusal(path) == "tangerang.yaml: step 2: standard: Field required"


def test_missing_nested_field_is_located(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 4)["inputs"][2].pop("name"))

    assert refusal(path) == "tangerang.yaml: step 4: inputs[2].name: Field required"


def test_gap_in_step_numbers_is_refused(tmp_path: Path) -> None:
    def skip_three(data: dict[str, Any]) -> None:
        for later in data["steps"][2:]:
            later["number"] += 1

    path = write_variant(tmp_path, skip_three)

    assert refusal(path).startswith("tangerang.yaml: step 4: number: expected 3")


def test_repeated_step_number_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 3).update(number=2))

    assert refusal(path).startswith("tangerang.yaml: step 2: number: expected 3")


def test_stated_total_that_does_not_add_up_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 4).update(standard={"minutes": 170}))

    assert refusal(path) == (
        "tangerang.yaml: total_standard_minutes: states 380 but the steps' minute"
        " standards add up to 370"
    )


def test_standard_needs_exactly_one_unit(tmp_path: Path) -> None:
    both = {"minutes": 30, "working_days": 1}
    path = write_variant(tmp_path, lambda data: step(data, 3).update(standard=both))

    assert refusal(path) == (
        "tangerang.yaml: step 3: standard: give exactly one of minutes or working_days"
    )


def test_unquoted_decimal_version_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: data.update(version=2025.1))

    assert 'tangerang.yaml: version: put the version in quotes ("2025.1")' in refusal(path)


def test_role_id_must_be_a_slug(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: data["roles"][0].update(id="Ketua Tim"))

    assert "tangerang.yaml: roles[0].id: must be a kebab-case slug" in refusal(path)


def test_services_out_of_pipeline_order_are_refused(tmp_path: Path) -> None:
    def intake_after_scheduling(data: dict[str, Any]) -> None:
        step(data, 4).update(service="intake", kind="disposition")

    path = write_variant(tmp_path, intake_after_scheduling)

    assert "tangerang.yaml: step 4: service: 'intake' steps cannot follow 'scheduling'" in refusal(
        path
    )


def test_ending_before_the_last_step_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 3).update(on_approve=None))

    assert refusal(path) == (
        "tangerang.yaml: step 3: on_approve: only the last step may end the procedure"
    )


def test_step_no_path_leads_to_is_refused(tmp_path: Path) -> None:
    def skip_four(data: dict[str, Any]) -> None:
        step(data, 3)["on_approve"] = 5
        step(data, 5)["on_reject"] = 3

    path = write_variant(tmp_path, skip_four)

    assert refusal(path) == (
        "tangerang.yaml: step 4: no on_approve or on_reject leads to this step from step 1"
    )


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    path = write_variant(tmp_path, lambda data: step(data, 1).update(on_aprove=2))

    assert "tangerang.yaml: step 1: on_aprove: Extra inputs are not permitted" in refusal(path)


def test_key_written_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    text = TANGERANG.read_text(encoding="utf-8")
    path.write_text(text.replace("    on_reject: 4\n", "    on_reject: 4\n    on_reject: 3\n"))

    assert "twice.yaml: not valid YAML: " in refusal(path)
    assert "duplicate key 'on_reject'" in refusal(path)


def test_every_problem_is_reported(tmp_path: Path) -> None:
    def two_missing(data: dict[str, Any]) -> None:
        del data["city"]
        step(data, 7).pop("role")

    message = refusal(write_variant(tmp_path, two_missing))

    assert message.splitlines() == [
        "tangerang.yaml: city: Field required",
        "tangerang.yaml: step 7: role: Field required",
    ]
