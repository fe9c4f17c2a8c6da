"""The shared real PostgreSQL/NATS fixtures (tests/conftest.py), made visible to these tests.

pytest only offers a conftest's fixtures to tests below its directory, and a non-root
conftest may not use `pytest_plugins`, so the shared module is loaded by path and its
fixtures re-exported here.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from prokopim_cli.infra import (  # type: ignore[import-untyped, unused-ignore]
    Infra,
    running_infra,
)


def _shared_fixtures() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("prokopim_shared_test_fixtures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _shared_fixtures()
database_url = _shared.database_url
topology = _shared.topology
nats_client = _shared.nats_client


@pytest.fixture(scope="session")
async def infra(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Infra]:
    """PostgreSQL and NATS for this service's tests.

    Defined here rather than re-exported: with PROKOPIM_TEST_DATA set, the shared fixture
    and this one would start embedded servers in the same data directory, and each start
    stops a server it finds left there. A sub-directory keeps them apart.
    """
    shared_dir = os.environ.get("PROKOPIM_TEST_DATA")
    data_dir = Path(shared_dir) / "scheduling" if shared_dir else tmp_path_factory.mktemp("infra")
    async with running_infra(
        data_dir, os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    ) as running:
        yield running
