"""The workspace's real PostgreSQL/NATS fixtures (tests/conftest.py), for ledger's tests.

A conftest only serves its own directory, and `pytest_plugins` is refused outside the
top-level conftest, so the shared module is loaded by path and its fixtures re-exported.
`infra` is redefined only to keep its data apart: a second session fixture started on the
same PROKOPIM_TEST_DATA would stop the first one's servers as if they were left by a crash.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from prokopim_cli.infra import Infra, running_infra  # type: ignore[import-untyped, unused-ignore]


def _workspace_fixtures() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("prokopim_ledger_shared_fixtures", path)
    assert spec is not None and spec.loader is not None, f"cannot load {path}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _workspace_fixtures()
database_url = _shared.database_url
topology = _shared.topology
nats_client = _shared.nats_client


@pytest.fixture(scope="session")
async def infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Infra]:
    """PostgreSQL and NATS for ledger's tests (the shared ones when URLs are given)."""
    base = os.environ.get("PROKOPIM_TEST_DATA")
    data_dir = Path(base) / "ledger" if base else tmp_path_factory.mktemp("ledger-infra")
    async with running_infra(
        data_dir, os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    ) as running:
        yield running
