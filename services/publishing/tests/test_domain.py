"""Publishing's pure domain: given events, when a command, then events or a named error."""

from __future__ import annotations

import uuid
from datetime import date
from functools import reduce

import pytest
from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Contract,
    Draft,
    DraftApproved,
    MediaOutletDeactivated,
    MediaOutletRegistered,
    NewsPublished,
    OrderedOutlet,
    OutletMailed,
    OutletMailFailed,
    Requester,
)
from prokopim_events.envelope import Actor
from prokopim_kit.errors import MissingInputs, StepOutOfOrder, UnknownCase, WrongRole
from prokopim_publishing.config import Settings
from prokopim_publishing.domain import (
    CaseState,
    Delivery,
    HandOver,
    OrderPublication,
    Publish,
    RecordArchive,
    RecordOutcome,
    archive_name,
    decide_archive,
    decide_hand_over,
    decide_open,
    decide_order,
    decide_outcome,
    evolve,
    prepare_archive,
    prepare_publication,
)
from prokopim_publishing.errors import (
    AlreadyArchived,
    DuplicateOutletEmail,
    NotAnOutletManager,
    OutletInactive,
    UnknownOutlet,
)
from prokopim_publishing.mailer import press_release_message
from prokopim_publishing.registry import (
    DeactivateOutlet,
    Outlet,
    RegisterOutlet,
    Registry,
    UpdateOutlet,
    decide_deactivate,
    decide_register,
    decide_update,
    evolve_registry,
)
from prokopim_publishing.website import website_payload
from prokopim_sop import Sop, load_catalog

pytestmark = pytest.mark.unit

CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
MANAGERS = frozenset({"kepala-bagian", "ka-bagian"})
CASE_ID = uuid.UUID("6f1c1f3e-8c53-4b57-9d0e-2a1b0c9d8e7f")
HANDOVER_INPUTS = {"computer": "laptop-03", "network": "lan-setda"}
PUBLISH_INPUTS = {"press-release": "dms://pr/1", "photos": "dms://photos/1"}


def by(role: str) -> Actor:
    return Actor(id=f"{role}-1", role=role)


def case_file(activity: str = "Peresmian Taman Kota") -> CaseFile:
    return CaseFile(
        letter_number="005/123/DISKOMINFO",
        requester=Requester(name="Dinas Pertamanan", agency="DPKP", email="dpkp@example.go.id"),
        subject="Permohonan rekaman video sambutan Wali Kota",
        activity_name=activity,
        activity_date=date(2026, 3, 14),
    )


def draft(version: int = 2) -> Draft:
    return Draft(
        version=version,
        files=[
            Attachment(kind="video", ref="dms://video/final.mp4", name="final.mp4"),
            Attachment(kind="press-release", ref="dms://pr/1"),
        ],
        notes="Wali Kota meresmikan taman kota.",
    )


def approved(sop: Sop, step: int) -> DraftApproved:
    return DraftApproved(
        case_id=CASE_ID,
        sop_id=sop.id,
        sop_version=sop.version,
        step=step,
        next_step=sop.next_after(step),
        case=case_file(),
        draft=draft(),
        level=2,
        reviewer="kabag",
    )


def given(*events: Contract) -> CaseState:
    return reduce(evolve, events, CaseState())


def opened(sop: Sop, review_step: int) -> CaseState:
    (event,) = decide_open(CaseState(), sop, approved(sop, review_step), uuid.uuid4())
    return given(event)


def handed_over() -> CaseState:
    state = opened(BANDUNG, 9)
    return reduce(
        evolve, decide_hand_over(state, BANDUNG, by("ka-bagian"), HandOver(HANDOVER_INPUTS)), state
    )


# --- archive naming ------------------------------------------------------------------------
def test_archive_name_is_the_iso_date_and_the_slugified_activity_name() -> None:
    assert (
        archive_name("Peresmian Taman Kota", date(2026, 3, 14)) == "2026-03-14_peresmian-taman-kota"
    )


def test_archive_name_folds_accents_and_punctuation_into_one_dash() -> None:
    name = archive_name("  Kunjungan Wali Kota — Café «Ménara» / Rapat #2!  ", date(2025, 1, 2))
    assert name == "2025-01-02_kunjungan-wali-kota-cafe-menara-rapat-2"


def test_archive_name_of_a_name_without_letters_still_names_the_activity() -> None:
    assert archive_name("—", date(2025, 1, 2)) == "2025-01-02_kegiatan"


def test_archive_name_stays_a_safe_file_name_for_a_very_long_activity_name() -> None:
    name = archive_name("rapat koordinasi " * 20, date(2025, 1, 2))
    assert len(name) <= 91 and not name.endswith("-") and "/" not in name


# --- opening the step ----------------------------------------------------------------------
def test_an_approval_whose_next_step_is_ours_opens_it_with_case_and_draft() -> None:
    cause_id = uuid.uuid4()
    (event,) = decide_open(CaseState(), BANDUNG, approved(BANDUNG, 9), cause_id)
    assert (event.step, event.reason, event.cause_event_id) == (10, "handover", cause_id)
    assert event.case == case_file() and event.draft == draft()
    state = given(event)
    assert (state.awaiting_step, state.case_id, state.sop_id) == (10, CASE_ID, BANDUNG.id)


def test_an_approval_handing_to_another_review_step_opens_nothing() -> None:
    assert decide_open(CaseState(), TANGERANG, approved(TANGERANG, 5), uuid.uuid4()) == []


def test_a_case_already_handed_over_is_not_opened_again() -> None:
    assert decide_open(handed_over(), BANDUNG, approved(BANDUNG, 9), uuid.uuid4()) == []


# --- Bandung: hand-over and archive --------------------------------------------------------
def test_hand_over_gives_the_recording_to_the_requester_and_names_the_archive() -> None:
    state = opened(BANDUNG, 9)
    (event,) = decide_hand_over(state, BANDUNG, by("ka-bagian"), HandOver(HANDOVER_INPUTS))
    assert (event.step, event.next_step) == (10, None)
    assert event.recipient == case_file().requester
    assert event.draft_version == 2
    assert event.archive_name == "2026-03-14_peresmian-taman-kota"
    assert event.archivist_role == "pengadministrasi-umum"
    assert event.outputs == ["recording"] and event.inputs == HANDOVER_INPUTS
    assert evolve(state, event).awaiting_step is None


def test_hand_over_by_another_role_names_the_head_of_section() -> None:
    with pytest.raises(WrongRole) as error:
        decide_hand_over(
            opened(BANDUNG, 9), BANDUNG, by("penata-liputan"), HandOver(HANDOVER_INPUTS)
        )
    assert error.value.details["required_role"] == "ka-bagian"


def test_hand_over_names_every_missing_input() -> None:
    with pytest.raises(MissingInputs) as error:
        decide_hand_over(opened(BANDUNG, 9), BANDUNG, by("ka-bagian"), HandOver({"network": " "}))
    assert error.value.details["missing_inputs"] == ["computer", "network"]


def test_a_second_hand_over_is_out_of_order() -> None:
    with pytest.raises(StepOutOfOrder) as error:
        decide_hand_over(handed_over(), BANDUNG, by("ka-bagian"), HandOver(HANDOVER_INPUTS))
    assert error.value.details["awaiting_step"] is None


def test_a_case_never_opened_here_is_unknown() -> None:
    with pytest.raises(UnknownCase):
        decide_hand_over(CaseState(), BANDUNG, by("ka-bagian"), HandOver(HANDOVER_INPUTS))


def test_archive_before_the_hand_over_names_the_awaited_step() -> None:
    with pytest.raises(StepOutOfOrder) as error:
        prepare_archive(opened(BANDUNG, 9), "pengadministrasi-umum")
    assert error.value.details["awaiting_step"] == 10


def test_only_the_archivist_role_may_archive() -> None:
    with pytest.raises(WrongRole) as error:
        prepare_archive(handed_over(), "ka-bagian")
    assert error.value.details["required_role"] == "pengadministrasi-umum"


def test_the_archivist_files_the_entry_under_its_archive_name() -> None:
    state = handed_over()
    entry = prepare_archive(state, "pengadministrasi-umum")
    assert entry.archive_name == "2026-03-14_peresmian-taman-kota"
    assert entry.draft == draft() and entry.case_id == CASE_ID
    (event,) = decide_archive(
        state, BANDUNG, by("pengadministrasi-umum"), RecordArchive("/arsip/x.json")
    )
    assert (event.step, event.archive_name, event.location) == (
        10,
        entry.archive_name,
        "/arsip/x.json",
    )
    with pytest.raises(AlreadyArchived):
        prepare_archive(evolve(state, event), "pengadministrasi-umum")


# --- Tangerang: publish --------------------------------------------------------------------
def test_publish_defaults_title_and_body_to_the_activity_and_the_draft_notes() -> None:
    release = prepare_publication(
        opened(TANGERANG, 6), TANGERANG, "tim-liputan", Publish(PUBLISH_INPUTS)
    )
    assert release.title == "Peresmian Taman Kota"
    assert release.body == "Wali Kota meresmikan taman kota."
    assert release.files == tuple(draft().files)


def test_an_order_then_its_outcome_record_each_outlet_and_complete_the_step() -> None:
    state = opened(TANGERANG, 6)
    command = Publish(PUBLISH_INPUTS, title="Taman baru", body="Isi berita")
    a, b = (
        OrderedOutlet(outlet_id=uuid.uuid4(), name=n, email=f"{n}@media.example")
        for n in ("a", "b")
    )
    (order,) = decide_order(state, TANGERANG, by("tim-liputan"), OrderPublication(command, (a, b)))
    assert (order.step, order.title, order.outlets) == (7, "Taman baru", [a, b])
    state = evolve(state, order)
    assert state.order == order and state.awaiting_step == 7
    with pytest.raises(StepOutOfOrder):  # one order per case
        decide_order(state, TANGERANG, by("tim-liputan"), OrderPublication(command, (a,)))

    order_id = uuid.uuid4()
    outcome = RecordOutcome(
        order_id,
        "https://kota.example/berita/1",
        (Delivery(a, 1, message_id="<m@prokopim>"), Delivery(b, 3, error="550 gone")),
    )
    mailed, failed, published = decide_outcome(state, TANGERANG, by("tim-liputan"), outcome)
    assert isinstance(mailed, OutletMailed) and mailed.outlet_id == a.outlet_id
    assert isinstance(failed, OutletMailFailed) and failed.error == "550 gone"
    assert isinstance(published, NewsPublished)
    assert (published.step, published.next_step, published.draft_version) == (7, None, 2)
    assert published.website_url == "https://kota.example/berita/1"
    assert (published.emailed_outlets, published.failed_outlets) == ([a.outlet_id], [b.outlet_id])
    done = evolve(state, published)
    assert done.publication == published and done.awaiting_step is None
    assert decide_outcome(done, TANGERANG, by("tim-liputan"), outcome) == []  # once


def test_publish_by_the_head_of_section_names_the_coverage_team() -> None:
    with pytest.raises(WrongRole) as error:
        prepare_publication(
            opened(TANGERANG, 6), TANGERANG, "kepala-bagian", Publish(PUBLISH_INPUTS)
        )
    assert error.value.details["required_role"] == "tim-liputan"


def test_publish_without_photos_names_them() -> None:
    command = Publish({"press-release": "dms://pr/1"})
    with pytest.raises(MissingInputs) as error:
        prepare_publication(opened(TANGERANG, 6), TANGERANG, "tim-liputan", command)
    assert error.value.details["missing_inputs"] == ["photos"]


def test_hand_over_on_a_publish_step_names_the_awaited_step() -> None:
    with pytest.raises(StepOutOfOrder) as error:
        decide_hand_over(
            opened(TANGERANG, 6), TANGERANG, by("tim-liputan"), HandOver(PUBLISH_INPUTS)
        )
    assert error.value.details["awaiting_step"] == 7


# --- media registry ------------------------------------------------------------------------
def registry_of(*events: Contract) -> Registry:
    return reduce(evolve_registry, events, Registry())


def registered(email: str, name: str = "Outlet") -> MediaOutletRegistered:
    return MediaOutletRegistered(outlet_id=uuid.uuid4(), name=name, email=email)


def test_only_the_heads_of_section_may_register_and_the_error_names_them() -> None:
    with pytest.raises(NotAnOutletManager) as error:
        decide_register(
            Registry(), "tim-liputan", RegisterOutlet("A", "a@x.id"), uuid.uuid4(), MANAGERS
        )
    assert error.value.details["required_roles"] == ["ka-bagian", "kepala-bagian"]
    assert error.value.status == 403


def test_an_email_used_by_an_active_outlet_cannot_be_registered_again() -> None:
    first = registered("Redaksi@Koran.id")
    with pytest.raises(DuplicateOutletEmail) as error:
        decide_register(
            registry_of(first),
            "kepala-bagian",
            RegisterOutlet("B", "redaksi@koran.id"),
            uuid.uuid4(),
            MANAGERS,
        )
    assert error.value.details["outlet_id"] == str(first.outlet_id)


def test_a_deactivated_outlets_email_may_be_registered_again() -> None:
    first = registered("redaksi@koran.id")
    registry = registry_of(first, MediaOutletDeactivated(outlet_id=first.outlet_id))
    new_id = uuid.uuid4()
    (event,) = decide_register(
        registry, "ka-bagian", RegisterOutlet("B", "redaksi@koran.id"), new_id, MANAGERS
    )
    assert [o.outlet_id for o in evolve_registry(registry, event).active()] == [new_id]


def test_update_keeps_its_own_email_but_cannot_take_another_active_one() -> None:
    a, b = registered("a@x.id"), registered("b@x.id")
    registry = registry_of(a, b)
    (event,) = decide_update(
        registry, "kepala-bagian", UpdateOutlet(a.outlet_id, "A baru", "a@x.id"), MANAGERS
    )
    assert evolve_registry(registry, event).outlets[a.outlet_id] == Outlet(
        a.outlet_id, "A baru", "a@x.id"
    )
    with pytest.raises(DuplicateOutletEmail):
        decide_update(registry, "kepala-bagian", UpdateOutlet(a.outlet_id, "A", "B@x.id"), MANAGERS)


def test_unknown_outlets_are_404_and_deactivating_twice_is_refused() -> None:
    a = registered("a@x.id")
    with pytest.raises(UnknownOutlet):
        decide_update(Registry(), "ka-bagian", UpdateOutlet(a.outlet_id, "A", "a@x.id"), MANAGERS)
    with pytest.raises(UnknownOutlet):
        decide_deactivate(Registry(), "ka-bagian", DeactivateOutlet(a.outlet_id), MANAGERS)
    registry = registry_of(a, MediaOutletDeactivated(outlet_id=a.outlet_id))
    assert registry.active() == []
    with pytest.raises(OutletInactive):
        decide_deactivate(registry, "ka-bagian", DeactivateOutlet(a.outlet_id), MANAGERS)


# --- what goes out -------------------------------------------------------------------------
def test_the_email_to_an_outlet_carries_the_release_the_website_link_and_the_files() -> None:
    release = prepare_publication(
        opened(TANGERANG, 6), TANGERANG, "tim-liputan", Publish(PUBLISH_INPUTS)
    )
    outlet = Outlet(uuid.uuid4(), "Koran Kota", "redaksi@koran.id")
    message = press_release_message(release, "https://kota.example/b/1", "humas@kota.id", outlet)
    text = message.get_content()
    assert message["To"] == "Koran Kota <redaksi@koran.id>"
    assert message["Subject"] == "Peresmian Taman Kota"
    assert "Wali Kota meresmikan taman kota." in text
    assert "https://kota.example/b/1" in text and "dms://video/final.mp4" in text


def test_the_website_receives_the_release_as_json() -> None:
    release = prepare_publication(
        opened(TANGERANG, 6), TANGERANG, "tim-liputan", Publish(PUBLISH_INPUTS)
    )
    payload = website_payload(release)
    assert payload["case_id"] == str(CASE_ID) and payload["activity_date"] == "2026-03-14"
    assert payload["files"][0]["ref"] == "dms://video/final.mp4"
    assert set(payload) == {"case_id", "title", "body", "files", "activity_name", "activity_date"}


def test_outlet_manager_roles_are_read_as_a_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JWT_SECRET", "publishing-domain-tests-0123456789abcdef")
    monkeypatch.setenv("OUTLET_MANAGER_ROLES", "kepala-bagian, ketua-tim")
    assert Settings().outlet_manager_roles == frozenset({"kepala-bagian", "ketua-tim"})
