"""The local archive: a JSON manifest per handed-over recording, named by the SOP rule.

The SOP keeps recordings "as softcopy, named after the activity's name and date". The
draft's files stay where production put them; the manifest records what was filed.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from .domain import ArchiveEntry
from .errors import IntegrationFailed

INTEGRATION = "archive"


def manifest(entry: ArchiveEntry) -> dict[str, Any]:
    """Return the manifest document of an archive entry."""
    case = entry.case
    return {
        "archive_name": entry.archive_name,
        "case_id": str(entry.case_id),
        "sop_id": entry.sop_id,
        "sop_version": entry.sop_version,
        "letter_number": case.letter_number,
        "subject": case.subject,
        "activity_name": case.activity_name,
        "activity_date": case.activity_date.isoformat(),
        "requester": case.requester.model_dump(mode="json", exclude_none=True),
        "draft_version": entry.draft.version,
        "notes": entry.draft.notes,
        "files": [file.model_dump(mode="json") for file in entry.draft.files],
    }


class LocalArchive:
    """Writes manifests into one directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def file(self, entry: ArchiveEntry) -> str:
        """Write `<archive_name>.json` (atomically); return its absolute path."""
        try:
            return await asyncio.to_thread(self._write, entry)
        except OSError as error:
            raise IntegrationFailed(INTEGRATION, f"{type(error).__name__}: {error}") from error

    def _write(self, entry: ArchiveEntry) -> str:
        self._directory.mkdir(parents=True, exist_ok=True)
        path = self._directory / f"{entry.archive_name}.json"
        if _filed_for_another_case(path, str(entry.case_id)):
            # Two activities of the same name on the same day: keep both, the later one
            # suffixed with its case id, rather than overwrite the first.
            path = self._directory / f"{entry.archive_name}_{entry.case_id.hex[:8]}.json"
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(manifest(entry), indent=2, ensure_ascii=False) + "\n")
        os.replace(partial, path)
        return str(path.resolve())


def _filed_for_another_case(path: Path, case_id: str) -> bool:
    try:
        existing = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except ValueError:
        return True  # not ours to overwrite
    return not (isinstance(existing, dict) and existing.get("case_id") == case_id)
