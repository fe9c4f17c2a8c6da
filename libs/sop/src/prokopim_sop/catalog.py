"""The set of SOPs the services can run, looked up by id and version."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

from prokopim_sop.errors import DefinitionProblem, SopDefinitionError, UnknownSop
from prokopim_sop.loader import load_sop
from prokopim_sop.sop import Sop

SOP_DIR_ENV: Final = "PROKOPIM_SOP_DIR"
_SUFFIXES: Final = frozenset({".yaml", ".yml"})


def bundled_definitions_dir() -> Path:
    """Return the directory of the definitions shipped inside this package."""
    return Path(__file__).parent / "definitions"


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions naturally: "2024.10" after "2024.9", numbers before words."""
    parts = re.split(r"[.\-_]", version)
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in parts)


class SopCatalog:
    """Immutable collection of SOPs; several versions of one SOP may coexist."""

    def __init__(self, sops: Iterable[Sop]) -> None:
        by_key: dict[tuple[str, str], Sop] = {}
        for sop in sops:
            if (sop.id, sop.version) in by_key:
                raise ValueError(f"SOP {sop.id!r} version {sop.version!r} given twice")
            by_key[sop.id, sop.version] = sop
        self._sops = tuple(sorted(by_key.values(), key=lambda s: (s.id, version_key(s.version))))

    def get(self, sop_id: str, version: str | int | None = None) -> Sop:
        """Return `version` of SOP `sop_id` (the latest if None); raise UnknownSop."""
        versions = [sop for sop in self._sops if sop.id == sop_id]
        if not versions:
            raise UnknownSop(sop_id, None, self.ids)
        if version is None:
            return versions[-1]
        for sop in versions:
            if sop.version == str(version):
                return sop
        raise UnknownSop(sop_id, str(version), [sop.version for sop in versions])

    @property
    def ids(self) -> list[str]:
        """Return the distinct SOP ids, sorted."""
        return sorted({sop.id for sop in self._sops})

    def versions(self, sop_id: str) -> list[str]:
        """Return the versions of `sop_id`, oldest first (empty if unknown)."""
        return [sop.version for sop in self._sops if sop.id == sop_id]

    def __iter__(self) -> Iterator[Sop]:
        return iter(self._sops)

    def __len__(self) -> int:
        return len(self._sops)

    def __contains__(self, sop_id: object) -> bool:
        return any(sop.id == sop_id for sop in self._sops)


def load_catalog(directory: Path | None = None) -> SopCatalog:
    """Load every *.yaml in `directory`, or the bundled ones plus $PROKOPIM_SOP_DIR if None."""
    if directory is not None:
        directories = [directory]
    else:
        directories = [bundled_definitions_dir()]
        extra = os.environ.get(SOP_DIR_ENV, "").strip()
        if extra:
            directories.append(Path(extra))
    loaded: dict[tuple[str, str], Path] = {}
    sops: list[Sop] = []
    for folder in directories:
        if not folder.is_dir():
            raise NotADirectoryError(f"SOP definitions directory {folder} does not exist")
        for path in sorted(p for p in folder.iterdir() if p.suffix in _SUFFIXES):
            sop = load_sop(path)
            earlier = loaded.setdefault((sop.id, sop.version), path)
            if earlier != path:
                # A local variant must take a new version, so events that name a version
                # keep meaning the steps they were recorded against.
                reason = f"{sop.id} version {sop.version} is already defined in {earlier}"
                raise SopDefinitionError(path, [DefinitionProblem(None, "version", reason)])
            sops.append(sop)
    return SopCatalog(sops)
