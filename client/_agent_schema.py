"""The agent protocol's JSON Schemas (``schemas/agent-v1.json``) and the check of incoming requests.

The schema file is the one source of truth: hosts read it, the tests validate every message the
agent emits against it with a full JSON Schema validator, and the agent checks every request
against it here, with the small subset of keywords the request schemas use (so the client needs
no validator library).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

SCHEMA_FILE: Final = Path(__file__).parent / "schemas" / "agent-v1.json"
_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@cache
def schema() -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(SCHEMA_FILE.read_bytes())
    return doc


def request_ops() -> frozenset[str]:
    return frozenset(name.removeprefix("request.") for name in schema()["$defs"] if name.startswith("request."))


def check_request(op: str, message: dict[str, Any]) -> str | None:
    """The first way ``message`` breaks the schema ``request.<op>``, in words; None when it fits."""
    return _check(message, {"$ref": f"#/$defs/request.{op}"}, op)


def _resolve(ref: str) -> dict[str, Any]:
    found: dict[str, Any] = schema()["$defs"][ref.removeprefix("#/$defs/")]
    return found


def _is(value: object, type_name: str) -> bool:
    if isinstance(value, bool) and type_name not in ("boolean",):
        return False  # JSON true is not a number
    return isinstance(value, _TYPES[type_name])


def _check(value: object, rule: dict[str, Any], where: str) -> str | None:
    if "$ref" in rule and (problem := _check(value, _resolve(rule["$ref"]), where)):
        return problem
    types = rule.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is(value, name) for name in names):
            return f"{where} must be {' or '.join(names)}"
    if "const" in rule and (value != rule["const"] or type(value) is not type(rule["const"])):
        return f"{where} must be {orjson.dumps(rule['const']).decode()}"
    if "enum" in rule and value not in rule["enum"]:
        return f"{where} must be one of {', '.join(map(str, rule['enum']))}"
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not rule.get("minimum", value) <= value <= rule.get("maximum", value)
    ):
        return f"{where} must be from {rule.get('minimum', '-∞')} to {rule.get('maximum', '∞')}"
    if isinstance(value, str) and not rule.get("minLength", 0) <= len(value) <= rule.get("maxLength", len(value)):
        return f"{where} must have {rule.get('minLength', 0)} to {rule.get('maxLength')} characters"
    if isinstance(value, list):
        if len(value) > rule.get("maxItems", len(value)):
            return f"{where} may have at most {rule['maxItems']} items"
        for index, item in enumerate(value):
            if "items" in rule and (problem := _check(item, rule["items"], f"{where}[{index}]")):
                return problem
    if isinstance(value, dict):
        return _check_object(value, rule, where)
    return None


def _check_object(value: dict[str, Any], rule: dict[str, Any], where: str) -> str | None:
    for key in rule.get("required", ()):
        if key not in value:
            return f"{where}.{key} is required"
    properties = rule.get("properties", {})
    for key, item in value.items():
        if key in properties:
            if problem := _check(item, properties[key], f"{where}.{key}"):
                return problem
        elif rule.get("additionalProperties") is False:
            return f"{where}: unknown field {key!r}"
    return None
