"""Personal data in views: a requester's contacts only for the roles whose steps need them.

A case file names the requester with their e-mail address and phone number. Reading a
case needs a token of an SOP role, but only the roles of the steps that deal with the
requester — receiving the request, the disposition on it, notifying the requester and
handing the result over — see the contacts; every other role gets them as null.
"""

from __future__ import annotations

from prokopim_events.contracts import CaseFile, Requester
from prokopim_sop import Sop, StepKind

CONTACT_KINDS = frozenset(
    {
        StepKind.RECEIVE_REQUEST,
        StepKind.DISPOSITION,
        StepKind.NOTIFY_REQUESTER,
        StepKind.HAND_OVER,
    }
)
"""The step kinds whose role deals with the requester directly."""

REDACTED_NOTE = (
    "The requester's email and phone are null unless the reader's role does a step that"
    " deals with the requester (receive-request, disposition, notify-requester, hand-over)."
)


def sees_contacts(sop: Sop | None, role: str) -> bool:
    """Return whether `role` does a step of `sop` that needs the requester's contacts."""
    if sop is None:
        return False
    return any(step.role == role and step.kind in CONTACT_KINDS for step in sop.steps)


def redact_requester(requester: Requester, sop: Sop | None, role: str) -> Requester:
    """Return the requester as `role` may read it."""
    if sees_contacts(sop, role):
        return requester
    return requester.model_copy(update={"email": None, "phone": None})


def redact_case(case: CaseFile, sop: Sop | None, role: str) -> CaseFile:
    """Return the case file as `role` may read it."""
    if sees_contacts(sop, role):
        return case
    return case.model_copy(update={"requester": redact_requester(case.requester, sop, role)})
