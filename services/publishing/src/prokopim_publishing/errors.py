"""Publishing's own named errors: media registry rules and failed integrations.

They extend `prokopim_kit.errors.CommandRejected`, so the service app maps each to its
HTTP status and none of them writes an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from prokopim_kit.errors import CommandRejected


class NotAnOutletManager(CommandRejected):
    status = 403
    code = "wrong_role"
    title = "Managing media outlets needs another role"

    def __init__(self, required_roles: Iterable[str], actual_role: str) -> None:
        roles = sorted(required_roles)
        super().__init__(
            f"managing media outlets needs role {' or '.join(map(repr, roles))},"
            f" not {actual_role!r}",
            required_roles=roles,
            actual_role=actual_role,
        )


class UnknownOutlet(CommandRejected):
    status = 404
    code = "unknown_outlet"
    title = "No such media outlet"

    def __init__(self, outlet_id: UUID) -> None:
        super().__init__(f"media outlet {outlet_id} is not registered", outlet_id=str(outlet_id))


class DuplicateOutletEmail(CommandRejected):
    status = 409
    code = "duplicate_outlet_email"
    title = "Another active outlet uses this e-mail address"

    def __init__(self, email: str, outlet_id: UUID) -> None:
        super().__init__(
            f"an active media outlet ({outlet_id}) already uses {email}",
            email=email,
            outlet_id=str(outlet_id),
        )


class OutletInactive(CommandRejected):
    status = 409
    code = "outlet_inactive"
    title = "The media outlet is already deactivated"

    def __init__(self, outlet_id: UUID) -> None:
        super().__init__(
            f"media outlet {outlet_id} is already deactivated", outlet_id=str(outlet_id)
        )


class AlreadyArchived(CommandRejected):
    status = 409
    code = "already_archived"
    title = "The recording is already archived"

    def __init__(self, case_id: object, archive_name: str) -> None:
        super().__init__(
            f"case {case_id} is already archived as {archive_name}",
            case_id=str(case_id),
            archive_name=archive_name,
        )


class NoApprovedDraft(CommandRejected):
    status = 409
    code = "no_approved_draft"
    title = "The case carries no approved draft"

    def __init__(self, case_id: object) -> None:
        super().__init__(
            f"case {case_id} carries no approved draft to hand over or publish",
            case_id=str(case_id),
        )


class IntegrationFailed(CommandRejected):
    """An outside system (the city website, the mail server) refused or did not answer."""

    status = 502
    code = "integration_failed"
    title = "An outside system refused or did not answer"

    def __init__(self, integration: str, reason: str) -> None:
        super().__init__(
            f"the {integration} integration failed: {reason}; nothing was recorded, retry later",
            integration=integration,
            reason=reason,
        )
