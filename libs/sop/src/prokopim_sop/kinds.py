"""The five services and the step kinds each of them knows how to run."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Service(StrEnum):
    """A service that runs part of an SOP; declared in pipeline order."""

    INTAKE = "intake"
    SCHEDULING = "scheduling"
    PRODUCTION = "production"
    REVIEW = "review"
    PUBLISHING = "publishing"


class StepKind(StrEnum):
    """What a step does; services are written against kinds, not against city SOPs."""

    RECEIVE_REQUEST = "receive-request"
    DISPOSITION = "disposition"
    COORDINATE_SCHEDULE = "coordinate-schedule"
    NOTIFY_REQUESTER = "notify-requester"
    ASSIGN_STAFF = "assign-staff"
    RECORD = "record"
    EDIT = "edit"
    COVER = "cover"
    REVIEW = "review"
    HAND_OVER = "hand-over"
    PUBLISH = "publish"

    @property
    def service(self) -> Service:
        """Return the service that runs steps of this kind."""
        return KIND_SERVICE[self]


KIND_SERVICE: Final[dict[StepKind, Service]] = {
    StepKind.RECEIVE_REQUEST: Service.INTAKE,
    StepKind.DISPOSITION: Service.INTAKE,
    StepKind.COORDINATE_SCHEDULE: Service.SCHEDULING,
    StepKind.NOTIFY_REQUESTER: Service.SCHEDULING,
    StepKind.ASSIGN_STAFF: Service.SCHEDULING,
    StepKind.RECORD: Service.PRODUCTION,
    StepKind.EDIT: Service.PRODUCTION,
    StepKind.COVER: Service.PRODUCTION,
    StepKind.REVIEW: Service.REVIEW,
    StepKind.HAND_OVER: Service.PUBLISHING,
    StepKind.PUBLISH: Service.PUBLISHING,
}

SERVICE_ORDER: Final[tuple[Service, ...]] = tuple(Service)
