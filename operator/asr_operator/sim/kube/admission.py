"""Admission of custom resources against a CRD's structural schema, like kube-apiserver.

Order as in the apiserver: prune unknown fields (or refuse them under
`fieldValidation=Strict`), apply defaults, validate the schema (converted to JSON Schema
and checked by `jsonschema`), then evaluate every `x-kubernetes-validations` CEL rule with
the `cel` module. Errors are reported with the apiserver's field paths and wording so a
refused manifest reads the same as on a real cluster.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterable
from typing import Any

import cel
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from .cel_library import FUNCTIONS
from .errors import ApiError, bad_request, cause, invalid

JSON = dict[str, Any]
log = logging.getLogger(__name__)

_MISSING: Any = object()
_ROOT_SYSTEM = ("apiVersion", "kind", "metadata")
_DROPPED_KEYWORDS = {"nullable", "default", "example", "externalDocs", "format", "description"}
_UNSUPPORTED = "Undefined variable or function"


def to_json_schema(node: Any) -> Any:
    """A structural schema as plain JSON Schema (draft 7) for the keyword checks."""
    if not isinstance(node, dict):
        return node
    out: JSON = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in _DROPPED_KEYWORDS:
            continue
        if key in ("properties", "patternProperties"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(sub) for sub in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def field_path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _join(path: str, key: str | int) -> str:
    return field_path([path, key]) if path else field_path([key])


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {dict: "object", list: "array", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def render(value: Any) -> str:
    """A value as Go's `%#v` prints it in field errors, close enough to read the same."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(_type_name(value))
    return json.dumps(value)


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


class StructuralSchema:
    """A version's `openAPIV3Schema`, ready to admit objects of that version."""

    def __init__(self, raw: JSON, *, kind: str, group: str, version: str = "") -> None:
        self.raw = raw
        self.kind = kind
        self.group = group
        self.version = version
        converted = to_json_schema(raw)
        for key in _ROOT_SYSTEM:
            (converted.get("properties") or {}).pop(key, None)
        if "required" in converted:
            converted["required"] = [r for r in converted["required"] if r not in _ROOT_SYSTEM]
        self._validator = Draft7Validator(converted)
        self._programs: dict[str, cel.Program | None] = {}
        self._skipped: set[str] = set()

    # -- the admission pipeline -------------------------------------------------------

    def admit(self, obj: JSON, old: JSON | None, *, field_validation: str = "Ignore") -> list[str]:
        """Prune, default and validate `obj` in place; returns warnings, raises ApiError."""
        unknown: list[str] = []
        self._normalize(self.raw, obj, "", unknown, root=True)
        warnings = [f'unknown field "{path}"' for path in unknown]
        if unknown and field_validation == "Strict":
            raise bad_request(
                f'{self.kind} in version "{self.version}" cannot be handled as a {self.kind}: '
                f"strict decoding error: {', '.join(warnings)}"
            )
        causes = self._schema_causes(obj)
        self._cel(self.raw, obj, old if old is not None else _MISSING, "", causes, root=True)
        if causes:
            name = (obj.get("metadata") or {}).get("name") or ""
            raise invalid(self.kind, self.group, name, causes)
        return warnings if field_validation == "Warn" else []

    def _normalize(
        self, schema: JSON, value: Any, path: str, unknown: list[str], *, root: bool = False
    ) -> None:
        """Drop unknown and null fields and apply defaults, recursively (defaults included)."""
        if isinstance(value, dict):
            props: JSON = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            keep = schema.get("x-kubernetes-preserve-unknown-fields") or extra is True
            embedded = root or schema.get("x-kubernetes-embedded-resource")
            for key in list(value):
                if embedded and key in _ROOT_SYSTEM:
                    continue
                sub = props.get(key, extra if isinstance(extra, dict) else None)
                if sub is None:
                    if not keep:
                        unknown.append(_join(path, key))
                        del value[key]
                    continue
                if value[key] is None and not sub.get("nullable"):
                    if "default" not in sub:
                        del value[key]
                        continue
                    value[key] = copy.deepcopy(sub["default"])
                self._normalize(sub, value[key], _join(path, key), unknown)
            for key, sub in props.items():
                if key not in value and "default" in sub and not (embedded and key in _ROOT_SYSTEM):
                    value[key] = copy.deepcopy(sub["default"])
                    self._normalize(sub, value[key], _join(path, key), unknown)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            for index, item in enumerate(value):
                self._normalize(schema["items"], item, _join(path, index), unknown)

    # -- keyword validation -------------------------------------------------------------

    def _schema_causes(self, obj: JSON) -> list[JSON]:
        causes: list[JSON] = []
        seen: set[tuple[str, str]] = set()
        body = {k: v for k, v in obj.items() if k not in _ROOT_SYSTEM}
        for error in sorted(
            self._validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))
        ):
            for item in self._describe(error):
                key = (item["field"], item["message"])
                if key not in seen:
                    seen.add(key)
                    causes.append(item)
        return causes

    def _describe(self, error: ValidationError) -> list[JSON]:
        path = field_path(error.absolute_path)
        where = path or "body"
        value = error.instance
        keyword = error.validator
        expected = error.validator_value
        if keyword == "required":
            return [
                cause("FieldValueRequired", _join(path, name), "Required value")
                for name in expected
                if isinstance(value, dict) and name not in value
            ]
        if keyword == "type" or (keyword == "anyOf" and _is_type_union(expected)):
            types = expected if keyword == "type" else [s["type"] for s in expected]
            if isinstance(types, list):
                types = ",".join(t for t in types if t != "null")
            actual = _type_name(value)
            return [
                cause(
                    "FieldValueTypeInvalid",
                    path,
                    f'Invalid value: "{actual}": {where} in body must be of type {types}: '
                    f'"{actual}"',
                )
            ]
        if keyword == "enum":
            supported = ", ".join(json.dumps(v) for v in expected if v is not None)
            return [
                cause(
                    "FieldValueNotSupported",
                    path,
                    f"Unsupported value: {render(value)}: supported values: {supported}",
                )
            ]
        if keyword == "maxLength":
            return [
                cause("FieldValueTooLong", path, f"Too long: may not be more than {expected} bytes")
            ]
        if keyword == "maxItems":
            return [
                cause(
                    "FieldValueTooMany",
                    path,
                    f"Too many: {len(value)}: must have at most {expected} items",
                )
            ]
        detail = {
            "pattern": f"{where} in body should match '{expected}'",
            "minimum": f"{where} in body should be greater than or equal to {_number(expected)}",
            "maximum": f"{where} in body should be less than or equal to {_number(expected)}",
            "exclusiveMinimum": f"{where} in body should be greater than {_number(expected)}",
            "exclusiveMaximum": f"{where} in body should be less than {_number(expected)}",
            "minLength": f"{where} in body should be at least {expected} chars long",
            "minItems": f"{where} in body should have at least {expected} items",
            "uniqueItems": f"{where} in body shouldn't contain duplicates",
            "minProperties": f"{where} in body should have at least {expected} properties",
            "maxProperties": f"{where} in body should have at most {expected} properties",
            "multipleOf": f"{where} in body should be a multiple of {_number(expected)}",
        }.get(str(keyword), f"{where} in body {error.message}")
        return [cause("FieldValueInvalid", path, f"Invalid value: {render(value)}: {detail}")]

    # -- CEL rules ----------------------------------------------------------------------

    def _program(self, rule: str) -> cel.Program | None:
        if rule not in self._programs:
            try:
                self._programs[rule] = cel.compile(rule)
            except Exception as exc:  # the cel module raises ValueError and friends
                log.warning("CEL rule not compiled, skipped: %r: %s", rule, exc)
                self._programs[rule] = None
        return self._programs[rule]

    def _cel(
        self,
        schema: JSON,
        value: Any,
        old: Any,
        path: str,
        causes: list[JSON],
        *,
        root: bool = False,
    ) -> None:
        if value is None:
            return  # a null (nullable) value runs no rule, as in the apiserver
        for rule in schema.get("x-kubernetes-validations") or []:
            self._rule(rule, schema, value, old, path, causes)
        if isinstance(value, dict):
            props: JSON = schema.get("properties") or {}
            extra = schema.get("additionalProperties")
            for key, item in value.items():
                if root and key in _ROOT_SYSTEM:
                    continue
                sub = props.get(key, extra if isinstance(extra, dict) else None)
                if sub is not None:
                    previous = old.get(key, _MISSING) if isinstance(old, dict) else _MISSING
                    self._cel(sub, item, previous, _join(path, key), causes)
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            keys = schema.get("x-kubernetes-list-map-keys") or []
            is_map = schema.get("x-kubernetes-list-type") == "map" and keys
            # Only list-type=map items correlate with old ones (by their keys), as in Kubernetes.
            olds = {_map_key(o, keys): o for o in old} if is_map and isinstance(old, list) else {}
            for index, item in enumerate(value):
                previous = olds.get(_map_key(item, keys), _MISSING) if is_map else _MISSING
                self._cel(schema["items"], item, previous, _join(path, index), causes)
            _duplicates(schema, value, path, causes)

    def _rule(
        self, rule: JSON, schema: JSON, value: Any, old: Any, path: str, causes: list[JSON]
    ) -> None:
        text = rule.get("rule", "")
        program = self._program(text)
        if program is None:
            return
        transition = re.search(r"\boldSelf\b", text) is not None
        if transition and old is _MISSING:
            return
        variables = {"self": value}
        if transition:
            variables["oldSelf"] = old
        try:
            ok = program.execute(cel.Context(variables=variables, functions=FUNCTIONS))
        except RuntimeError as exc:
            if _UNSUPPORTED in str(exc):
                if text not in self._skipped:
                    self._skipped.add(text)
                    log.warning("CEL rule uses a function the cel module lacks, skipped: %r", text)
                return
            ok, message = False, f"{exc} evaluating rule: {text}"
        except Exception as exc:  # runtime errors of the rule itself, e.g. no such key
            ok, message = False, f"{exc} evaluating rule: {text}"
        else:
            message = self._message(rule, variables) if ok is not True else ""
        if ok is True:
            return
        where = path
        if rule.get("fieldPath"):
            where = (path + rule["fieldPath"]) if path else rule["fieldPath"].lstrip(".")
        reason = rule.get("reason") or "FieldValueInvalid"
        prefix = {
            "FieldValueForbidden": "Forbidden: ",
            "FieldValueRequired": "Required value: ",
            "FieldValueDuplicate": "Duplicate value: ",
        }.get(reason, f'Invalid value: "{schema.get("type", "object")}": ')
        causes.append(cause(reason, where, prefix + message))

    def _message(self, rule: JSON, variables: JSON) -> str:
        expression = rule.get("messageExpression")
        if expression:
            program = self._program(expression)
            if program is not None:
                try:
                    result = program.execute(cel.Context(variables=variables, functions=FUNCTIONS))
                    if isinstance(result, str) and result:
                        return result
                except Exception as exc:
                    log.warning("CEL messageExpression failed: %r: %s", expression, exc)
        return rule.get("message") or f"failed rule: {rule.get('rule', '')}"


def _map_key(item: Any, keys: list[str]) -> str:
    return json.dumps([item.get(k) if isinstance(item, dict) else item for k in keys])


def _duplicates(schema: JSON, items: list[Any], path: str, causes: list[JSON]) -> None:
    """`x-kubernetes-list-type` set and map: items (or their map keys) are unique."""
    list_type = schema.get("x-kubernetes-list-type")
    keys = schema.get("x-kubernetes-list-map-keys") or []
    if list_type not in ("set", "map") or (list_type == "map" and not keys):
        return
    seen: set[str] = set()
    for index, item in enumerate(items):
        if list_type == "set":
            identity = json.dumps(item, sort_keys=True)
            shown = render(item)
        else:
            identity = _map_key(item, keys)
            fields = {k: item.get(k) for k in keys} if isinstance(item, dict) else item
            shown = json.dumps(fields, separators=(",", ":"))
        if identity in seen:
            causes.append(
                cause("FieldValueDuplicate", _join(path, index), f"Duplicate value: {shown}")
            )
        seen.add(identity)


def _is_type_union(subschemas: Any) -> bool:
    return isinstance(subschemas, list) and all(
        isinstance(s, dict) and set(s) == {"type"} for s in subschemas
    )


__all__ = ["ApiError", "StructuralSchema", "field_path", "render", "to_json_schema"]
