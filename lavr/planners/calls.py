"""Checking tool calls with references before anything runs (a pipeline's tool steps, ``lavr.planners.pipeline``).

An argument may take its value from an earlier step's structured output (the tool's output model, dumped to
JSON) with a *reference* (``lavr.refs``): a string that is entirely ``$<step id>`` followed by a path of
``.field`` and ``[index]`` parts, e.g. ``"$s1.detections[0].id"``. ``check_call`` reports, at once, an unknown
tool, unknown argument names, unknown or forward references, paths that do not exist in the referenced tool's
output schema and references whose type cannot fit the argument. Arguments are validated against the tool's
input model with the references left in place; errors located at a reference (its value is not known yet) are
deferred, and the kind of value is checked from the two JSON schemas instead. Once the earlier steps have run,
the substituted arguments are validated again by the executor right before the call.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from ..refs import Loc, RefError, find_refs, format_path, parse_ref, substitute
from ..tools.base import Tool, inline_schema

# JSON schema walking -------------------------------------------------------------------------------------------

def _variants(schema: dict[str, Any]) -> list[dict[str, Any]]:
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [v for option in options for v in _variants(option) if v.get("type") != "null"]
    return [schema]


def schema_at(schema: dict[str, Any], path: Loc, *, name: str) -> list[dict[str, Any]]:
    """The sub-schemas found at ``path``; ``[{}]`` (anything) where the schema does not say.

    Raises:
        RefError: the path does not exist; the message lists the fields that do.
    """
    current = [schema]
    for depth, part in enumerate(path):
        found: list[dict[str, Any]] = []
        fields: list[str] = []
        for node in (v for s in current for v in _variants(s)):
            if not node:
                found.append({})
            elif isinstance(part, int):
                if "prefixItems" in node:
                    items = node["prefixItems"]
                    if -len(items) <= part < len(items):
                        found.append(items[part])
                elif node.get("type") == "array" or "items" in node:
                    found.append(node.get("items", {}))
            elif "properties" in node and part in node["properties"]:
                found.append(node["properties"][part])
            elif isinstance(node.get("additionalProperties"), dict):
                found.append(node["additionalProperties"])
            elif node.get("type") == "object" and node.get("additionalProperties", True) is True \
                    and "properties" not in node:
                found.append({})
            else:
                fields += list(node.get("properties", {}))
        if not found:
            where = format_path(name, path[:depth])
            what = f"has no item [{part}]" if isinstance(part, int) else f"has no field {part!r}"
            hint = f"; fields: {', '.join(dict.fromkeys(fields))}" if fields else ""
            raise RefError(f"{where} {what}{hint}")
        current = found
    return current


def json_types(schemas: list[dict[str, Any]]) -> set[str] | None:
    """JSON types a value matching any of ``schemas`` may have; None when unknown (anything goes)."""
    kinds: set[str] = set()
    for node in (v for s in schemas for v in _variants(s)):
        if "type" in node:
            kinds |= set(node["type"]) if isinstance(node["type"], list) else {node["type"]}
        elif "const" in node or "enum" in node:
            values = node.get("enum", [node.get("const")])
            kinds |= {_kind(v) for v in values}
        else:
            return None
    return kinds


def _kind(value: Any) -> str:
    for py, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
                     (dict, "object")):
        if isinstance(value, py):
            return name
    return "null"


def _fits(source: set[str] | None, target: set[str] | None) -> bool:
    if source is None or target is None:
        return True
    widened = source | ({"number"} if "integer" in source else set())
    return bool(widened & target) or ("number" in target and "integer" in source)


@functools.cache
def output_schema(tool_class: type[Tool]) -> dict[str, Any]:
    """The tool's output model as a JSON schema with ``$ref``s resolved (what references walk)."""
    return inline_schema(tool_class.output_model.model_json_schema())


# Validation ---------------------------------------------------------------------------------------------------

def _loc_text(loc: Loc) -> str:
    return "args" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def check_ref(loc: Loc, text: str, *, tool: Tool, earlier: Mapping[str, dict[str, Any] | None],
              later: Collection[str], this: str | None = None) -> str | None:
    """The problem with one reference, or None. ``earlier`` maps step ids to their output schema."""
    try:
        ref = parse_ref(text)
    except RefError as exc:
        return f"{_loc_text(loc)}: {exc}"
    if ref.step not in earlier:
        if ref.step == this:
            return f'{_loc_text(loc)}: reference "{text}" names this step itself; a step can only use earlier steps'
        if ref.step in later:
            return (f'{_loc_text(loc)}: reference "{text}" names step {ref.step}, which runs later; '
                    "a step can only use earlier steps")
        known = ", ".join(earlier) or "none"
        return f'{_loc_text(loc)}: reference "{text}" names no earlier step; earlier steps: {known}'
    source = earlier[ref.step]
    if source is None:
        return None
    try:
        found = schema_at(source, ref.path, name=ref.step)
        target = schema_at(tool.parameters_schema(), loc, name=tool.name)
    except RefError as exc:
        return f'{_loc_text(loc)}: reference "{text}": {exc}'
    have, want = json_types(found), json_types(target)
    if not _fits(have, want):
        return (f'{_loc_text(loc)}: reference "{text}" gives {"/".join(sorted(have or []))} but {tool.name} '
                f'expects {"/".join(sorted(want or []))} there')
    return None


def check_call(tool_name: str, args: Any, *, tools: Mapping[str, Tool],
               earlier: Mapping[str, dict[str, Any] | None], later: Collection[str] = (),
               this: str | None = None) -> list[str]:
    """Problems with one call before it runs: tool, argument names, references, argument values.

    Args:
        tool_name: The tool the step calls.
        args: Its arguments, possibly with references.
        tools: The tools that may be called, by name.
        earlier: Ids of the steps before this one, mapped to their output JSON schema (None: not known).
        later: Ids of the steps after this one (for a clearer message on forward references).
        this: The step's own id (likewise).
    """
    if tool_name not in tools:
        return [f"unknown tool {tool_name!r}. Valid tools: {', '.join(tools) or 'none'}"]
    tool = tools[tool_name]
    if not isinstance(args, dict):
        return ["args must be an object"]
    fields = tool.input_model.model_fields
    accepted = set(fields) | {f.alias for f in fields.values() if f.alias}
    problems = [f"unknown argument {k!r}. Accepted arguments: {', '.join(fields) or 'none'}"
                for k in args if k not in accepted]
    refs = [(loc, text) for loc, text in find_refs(args) if loc[0] in accepted]
    problems += [p for loc, text in refs if (p := check_ref(loc, text, tool=tool, earlier=earlier, later=later,
                                                                this=this))]
    ref_locs = [loc for loc, _ in refs]
    try:
        tool.input_model.model_validate(substitute(args, None))
    except ValidationError as err:
        for item in err.errors():
            loc = tuple(item["loc"])
            deferred = any(loc[:len(r)] == r for r in ref_locs) or (not loc and bool(ref_locs))
            if item["type"] == "extra_forbidden" or deferred:
                continue
            problems.append(f"{_loc_text(loc)}: {item['msg']}")
    return problems
