"""Read one SOP definition file and turn every validation failure into a located message."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped, unused-ignore]
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from prokopim_sop._rules import RULE_ERROR
from prokopim_sop.errors import DefinitionProblem, SopDefinitionError
from prokopim_sop.sop import Sop

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictKeyLoader(yaml.SafeLoader):  # type: ignore[misc, unused-ignore]
    """Safe loader that refuses a key written twice (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def load_sop(path: Path | str) -> Sop:
    """Load and validate one SOP definition; raise SopDefinitionError if it is malformed."""
    path = Path(path)
    raw = _read_mapping(path)
    try:
        return Sop.model_validate(raw)
    except ValidationError as exc:
        problems = [_locate(error, raw) for error in exc.errors(include_url=False)]
        raise SopDefinitionError(path, problems) from None


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictKeyLoader)
    except yaml.YAMLError as exc:
        reason = f"not valid YAML: {exc}"
        raise SopDefinitionError(path, [DefinitionProblem(None, None, reason)]) from None
    if not isinstance(data, dict):
        reason = "expected a mapping of SOP fields at the top level"
        raise SopDefinitionError(path, [DefinitionProblem(None, None, reason)])
    return data


def _locate(error: ErrorDetails, raw: Mapping[str, Any]) -> DefinitionProblem:
    """Name the step (by its number in the file, not its list index) and the field."""
    loc = error["loc"]
    step: int | None = None
    rest = loc
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step = _number_in_file(raw, loc[1])
        if step is not None:
            rest = loc[2:]
    field = _dotted(rest)
    reason = error["msg"]
    context = error.get("ctx", {})
    if error["type"] == RULE_ERROR:
        step = context.get("step", step)
        field = context.get("field", field)
    elif error["type"] == "value_error":
        reason = str(context.get("error", reason))
    return DefinitionProblem(step, field or None, reason)


def _number_in_file(raw: Mapping[str, Any], index: int) -> int | None:
    steps = raw.get("steps")
    if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], dict):
        number = steps[index].get("number")
        if isinstance(number, int) and not isinstance(number, bool):
            return number
    return None


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text
