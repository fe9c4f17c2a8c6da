"""Schemathesis over every service's OpenAPI, against the services running as processes.

All of schemathesis's checks, positive and negative data: no 5xx, no status a route does
not document, no response breaking its schema, schema-invalid input refused and
schema-valid input not refused for its form. A fixed budget of examples per operation and
mode (PROKOPIM_FUZZ_EXAMPLES, default 6) and a derandomised run keep it repeatable and
short; the `fuzz` marker lets CI run it as a job of its own.

422 is among the answers schema-valid data may get: it is also how a rule of the step is
refused (a kelengkapan missing, an SOP not installed), and the routes document it.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, CheckFunction, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode

from .apps import SERVICES, token
from .conftest import System

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("PROKOPIM_FUZZ_EXAMPLES", "6"))
# A role that may act at some step of each service, so requests get past the role check.
ROLE = {
    "intake": "pengadministrasi-umum",
    "scheduling": "ka-tim-dokpim",
    "production": "penata-liputan",
    "review": "koordinator-kpp",
    "publishing": "kepala-bagian",
    "ledger": "kepala-bagian",
}
CONFIG = {
    "checks": {
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]
        }
    }
}


def all_checks() -> list[CheckFunction]:
    """Return every check schemathesis has (they register when first needed)."""
    load_all_checks()
    checks: list[CheckFunction] = [c for c in CHECKS.get_all() if inspect.isfunction(c)]
    assert len(checks) >= 12, [check.__name__ for check in checks]
    return checks


@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_finds_nothing(system: System, service: str) -> None:
    url = system.running.urls[service]
    document = httpx.get(f"{url}/openapi.json").json()
    config = SchemathesisConfig.from_dict(CONFIG)
    schema = schemathesis.openapi.from_dict(document, config=config)
    headers = {"Authorization": f"Bearer {token(ROLE[service], secret=system.secret)}"}
    every_check = all_checks()
    tried = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation schemathesis could not read
            raise result.err()
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case[Any]) -> None:
                case.call_and_validate(base_url=url, headers=headers, checks=every_check)

            try:
                run()
            except Unsatisfiable:  # e.g. no schema-invalid form of an operation's input
                continue
            except Exception as error:
                error.add_note(f"{service}: {operation.label} ({mode.value} data)")
                raise
            tried += 1
    assert tried >= 2


@pytest.mark.parametrize(
    ("service", "role"), [("intake", "pengadministrasi-umum"), ("publishing", "kepala-bagian")]
)
def test_schemathesis_follows_the_declared_links(system: System, service: str, role: str) -> None:
    """Stateful: a new case (intake) or outlet (publishing), then what its links lead to."""
    url = system.running.urls[service]
    document = httpx.get(f"{url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(CONFIG))
    headers = {"Authorization": f"Bearer {token(role, secret=system.secret)}"}

    # mypy cannot take a base class from a call (here, one built from the document)
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, object]:
            return {"base_url": url, "headers": headers}

    Machine.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=4,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
