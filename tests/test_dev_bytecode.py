"""`dev.py` compiles the bytecode every process would otherwise compile at each start."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.unit
def test_every_workspace_module_and_installed_package_has_its_bytecode() -> None:
    # dev.py set this environment up; with PYTHONDONTWRITEBYTECODE (as on CI machines)
    # no import writes a .pyc, so only dev.py can have written them
    sources = [
        path
        for pattern in ("libs/*/src", "services/*/src", "cli/src")
        for folder in ROOT.glob(pattern)
        for path in folder.rglob("*.py")
    ]
    assert len(sources) > 100
    missing = [
        str(path.relative_to(ROOT))
        for path in sources
        if not Path(importlib.util.cache_from_source(str(path))).exists()
    ]
    assert not missing, f"no bytecode for {len(missing)} modules, e.g. {missing[:5]}"
    import fastapi  # an installed package, compiled by `uv sync --compile-bytecode`

    assert Path(importlib.util.cache_from_source(fastapi.__file__ or "")).exists()
