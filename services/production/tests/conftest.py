"""Re-export the workspace's real PostgreSQL/NATS fixtures (tests/conftest.py) to this tree.

A conftest only serves the tests below its folder, and under `--import-mode=importlib` the
workspace's `tests` folder is not importable as a package, so it is loaded by path.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def _load_workspace_conftest() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("prokopim_workspace_conftest", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _load_workspace_conftest()
infra = _shared.infra
database_url = _shared.database_url
topology = _shared.topology
nats_client = _shared.nats_client
