"""Is a new JSON Schema of an event's data still readable by the subscribers of the old one?

Pure functions over pydantic's JSON Schemas (`$defs`/`$ref`, `anyOf` for unions and
nullables, `enum`/`const` for literals). Allowed: a new optional field, a new enum value,
changed descriptions, titles and defaults, closing an object to undeclared fields. Breaking,
reported with the field's path: a removed field, a new required field, a field that became
required or stopped being required, a changed type or format, a removed enum value, an
object closed to undeclared fields (`additionalProperties: false`) that opens again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class Incompatibility:
    """One breaking difference: where (a dotted field path) and what."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path or '<data>'}: {self.problem}"


def incompatibilities(old: Schema, new: Schema) -> list[Incompatibility]:
    """Return every way `new` breaks readers of `old` (empty when compatible)."""
    return _Comparison(old, new).node(old, new, "")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_defs = old_root.get("$defs", {})
        self._new_defs = new_root.get("$defs", {})
        self._active: set[tuple[int, int]] = set()  # objects being compared: ends recursion

    def node(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        old_kinds, new_kinds = _kinds(old, self._old_defs), _kinds(new, self._new_defs)
        if set(old_kinds) != set(new_kinds):
            was, now = _describe(old_kinds), _describe(new_kinds)
            return [Incompatibility(path, f"type changed from {was} to {now}")]
        problems: list[Incompatibility] = []
        for kind, old_branch in old_kinds.items():
            problems += self._branch(kind, old_branch, new_kinds[kind], path)
        return problems

    def _branch(self, kind: str, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        problems: list[Incompatibility] = []
        old_values, new_values = _values(old), _values(new)
        # A new value, or any value of the type, is allowed: subscribers tolerate unknowns.
        if old_values is not None and new_values is not None and old_values - new_values:
            names = ", ".join(sorted(repr(v) for v in old_values - new_values))
            problems.append(Incompatibility(path, f"enum value {names} removed"))
        if kind == "array":
            problems += self.node(old.get("items", {}), new.get("items", {}), f"{path}[]")
        if kind == "object":
            problems += self._object(old, new, path)
        return problems

    def _object(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        pair = (id(old), id(new))
        if pair in self._active:
            return []
        self._active.add(pair)
        try:
            return self._properties(old, new, path)
        finally:
            self._active.discard(pair)

    def _properties(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        problems: list[Incompatibility] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        prefix = f"{path}." if path else ""
        for name, old_prop in old_props.items():
            where = f"{prefix}{name}"
            if name not in new_props:
                problems.append(Incompatibility(where, "field removed"))
                continue
            if name in new_required and name not in old_required:
                problems.append(Incompatibility(where, "optional field became required"))
            if name in old_required and name not in new_required:
                problems.append(Incompatibility(where, "required field became optional"))
            problems += self.node(old_prop, new_props[name], where)
        for name in sorted(new_required - set(old_props)):
            problems.append(Incompatibility(f"{prefix}{name}", "new required field"))
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if old_extra is False and new_extra is not False:
            problems.append(Incompatibility(path, "undeclared fields allowed again"))
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            problems += self.node(old_extra, new_extra, f"{path}{{}}")
        return problems


_FORMATLESS = {"object", "array", "null", "boolean"}


def _kinds(node: Schema, definitions: Schema) -> dict[str, Schema]:
    """Map each alternative a value may take (`string/uuid`, `null`, ...) to its schema."""
    while "$ref" in node:
        node = definitions[node["$ref"].rsplit("/", 1)[-1]]
    for key in ("anyOf", "oneOf"):
        if key in node:
            kinds: dict[str, Schema] = {}
            for branch in node[key]:
                kinds |= _kinds(branch, definitions)
            return kinds
    if "type" in node:
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
    elif "const" in node or "enum" in node:
        values = [node["const"]] if "const" in node else node["enum"]
        types = sorted({_json_type(value) for value in values})
    else:
        return {"any": node}
    return {
        (kind if kind in _FORMATLESS or "format" not in node else f"{kind}/{node['format']}"): node
        for kind in types
    }


def _values(node: Schema) -> set[Any] | None:
    if "const" in node:
        return {node["const"]}
    return set(node["enum"]) if "enum" in node else None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string"}.get(type(value), "object")


def _describe(kinds: dict[str, Schema]) -> str:
    return " | ".join(sorted(kinds)) or "nothing"
