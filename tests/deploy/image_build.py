"""Replay a Dockerfile's build stage without Docker: its `uv` steps, in a copy of the context.

The build stage of every prokopim image is: ENV, WORKDIR, `RUN uv sync` with the lock file
bind-mounted, `COPY . .` (filtered by .dockerignore), `RUN uv sync` again. Replaying those
steps on this machine shows what the image's virtualenv would hold.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from .stack import Instruction, dockerfile_instructions

_MOUNT = re.compile(r"--mount=(\S+)\s+")


def dockerignore(text: str) -> Callable[[str], bool]:
    """A predicate telling whether a context-relative path is excluded (no `!` rules)."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise ValueError(f"exception rules are not supported here: {line}")
        body = re.escape(line.strip("/"))
        body = body.replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        patterns.append(re.compile(f"{body}(?:/.*)?"))
    return lambda path: any(p.fullmatch(path) for p in patterns)


def build_stage(instructions: list[Instruction], name: str = "build") -> list[Instruction]:
    """The instructions of the stage `FROM ... AS name`."""
    stage: list[Instruction] | None = None
    for ins in instructions:
        if ins.keyword == "FROM":
            if stage is not None:
                return stage
            if ins.arguments.lower().endswith(f" as {name}"):
                stage = []
        elif stage is not None:
            stage.append(ins)
    if stage is None:
        raise ValueError(f"no stage named {name}")
    return stage


def split_mounts(arguments: str) -> tuple[list[dict[str, str]], str]:
    """RUN arguments -> (its --mount options as dicts, the command)."""
    mounts = []
    while match := _MOUNT.match(arguments):
        mounts.append(dict(part.split("=", 1) for part in match[1].split(",")))
        arguments = arguments[match.end() :]
    return mounts, arguments


def copy_context(root: Path, destination: Path) -> None:
    """Copy the git-tracked files of the context that .dockerignore lets through."""
    excluded = dockerignore((root / ".dockerignore").read_text())
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout.decode()
    for relative in filter(None, tracked.split("\0")):
        if excluded(relative) or not (root / relative).is_file():
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)


def replay_build(
    dockerfile: Path, context: Path, scratch: Path, uv: str, env_overrides: Mapping[str, str]
) -> dict[str, str]:
    """Run the build stage's uv steps under `scratch`; return the ENV they ran with."""
    # This machine's own settings (package index, certificates, uv cache) stand in for the
    # build host's; the Dockerfile's ENV goes on top.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    workdir = scratch / "src"
    for ins in build_stage(dockerfile_instructions(dockerfile.read_text())):
        if ins.keyword == "ENV":
            for pair in shlex.split(ins.arguments):
                key, _, value = pair.partition("=")
                env[key] = value
            env.update(env_overrides)
        elif ins.keyword == "WORKDIR":
            workdir = scratch / ins.arguments.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif ins.keyword == "COPY" and ins.arguments.split() == [".", "."]:
            copy_context(context, workdir)
        elif ins.keyword == "RUN":
            mounts, command = split_mounts(ins.arguments)
            argv = shlex.split(command)
            if argv[0] != "uv":
                continue  # installing uv itself: this machine has it
            bound = [m for m in mounts if m.get("type") == "bind"]
            for mount in bound:
                shutil.copy2(context / mount["source"], workdir / mount["target"])
            try:
                done = subprocess.run(
                    [uv, *argv[1:]], cwd=workdir, env=env, capture_output=True, text=True
                )
            finally:
                for mount in bound:
                    (workdir / mount["target"]).unlink()
            if done.returncode != 0:
                raise RuntimeError(f"{dockerfile}: `{command}` failed:\n{done.stderr}")
    return env
