"""CEL rules attached to models and fields; the CRD generator copies them into
x-kubernetes-validations.

Model rules (`rules`) are cross-field checks the API server runs; a model that derives
from another keeps its parent's rules and adds its own. Field rules (`FieldRule`) hold
one check in both languages: the CEL the API server runs at admission, and the same
test in Python, so a spec built or stored outside admission (an object admitted by an
older CRD, a test) is refused by the operator's own model with the same message.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

VALIDATIONS = "x-kubernetes-validations"


class _ModelRules:
    """A model's own (rule, message) pairs; applied with those of every base model."""

    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self.pairs = pairs

    def __call__(self, schema: dict[str, Any], cls: type) -> None:
        collected: list[tuple[str, str]] = []
        for klass in reversed(cls.__mro__):
            config = klass.__dict__.get("model_config") or {}
            extra = config.get("json_schema_extra")
            if isinstance(extra, _ModelRules):
                collected += [p for p in extra.pairs if p not in collected]
        schema[VALIDATIONS] = [{"rule": r, "message": m} for r, m in collected]


def rules(*pairs: tuple[str, str]) -> ConfigDict:
    """Model config carrying (rule, message) pairs, evaluated with `self` bound to the object.

    Added to the rules of the models it derives from, never replacing them.
    """
    return ConfigDict(json_schema_extra=_ModelRules(pairs))


@dataclass(frozen=True)
class FieldRule:
    """One check of a field's value: CEL for the API server, `holds` for Python."""

    rule: str
    message: str
    holds: Callable[[Any], bool]

    def wire(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class Checked:
    """`Annotated` metadata: the field's rules in its schema, and run by pydantic."""

    rules: tuple[FieldRule, ...]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out[VALIDATIONS] = [*out.get(VALIDATIONS, []), *(r.wire() for r in self.rules)]
        return out

    def _validate(self, value: Any) -> Any:
        for rule in self.rules:
            if not rule.holds(value):
                raise ValueError(rule.message)
        return value


def checked(*field_rules: FieldRule) -> Checked:
    return Checked(field_rules)


def matches(pattern: str, message: str) -> FieldRule:
    """The value matches `^...$`, a pattern that reads the same in RE2 and in Python
    (no lookaround, explicit ASCII classes)."""
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise ValueError(f"anchor the pattern: {pattern}")
    compiled = re.compile(pattern)
    return FieldRule(
        f"self.matches({cel_string(pattern)})",
        message,
        lambda v: compiled.fullmatch(v) is not None,
    )


def cel_string(text: str) -> str:
    """A CEL string literal holding `text` exactly."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_ip(text: str, family: int | None = None) -> bool:
    """Kubernetes' CEL `isIP` (no zone, no leading zeros), optionally of one family."""
    if "%" in text:
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return family is None or address.version == family
