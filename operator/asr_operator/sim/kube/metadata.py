"""Object metadata checks of kube-apiserver: names, label keys and values, annotation keys
and their total size, with the apiserver's field paths and messages (apimachinery's
`validation.IsDNS1123Subdomain`, `IsQualifiedName`, `IsValidLabelValue`)."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import cause

JSON = dict[str, Any]

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + "(\\." + _DNS1123_LABEL + ")*"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"
_FULL = {p: re.compile(f"^{p}$") for p in (_DNS1123_LABEL, _DNS1123_SUBDOMAIN, _QUALIFIED_NAME)}
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE}$")

_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_MESSAGE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)
_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character"
)
SUBDOMAIN_MAX, LABEL_MAX, QUALIFIED_NAME_MAX, LABEL_VALUE_MAX = 253, 63, 63, 63
ANNOTATIONS_MAX_BYTES = 256 * 1024


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """apimachinery's RegexError, double spaces included."""
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_subdomain(value: str) -> list[str]:
    errs = [_max_len(SUBDOMAIN_MAX)] if len(value) > SUBDOMAIN_MAX else []
    if not _FULL[_DNS1123_SUBDOMAIN].match(value):
        errs.append(_regex_error(_SUBDOMAIN_MESSAGE, _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def dns1123_label(value: str) -> list[str]:
    errs = [_max_len(LABEL_MAX)] if len(value) > LABEL_MAX else []
    if not _FULL[_DNS1123_LABEL].match(value):
        errs.append(_regex_error(_LABEL_MESSAGE, _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def qualified_name(value: str) -> list[str]:
    """Label and annotation keys: an optional DNS subdomain prefix and '/', then a name."""
    parts = value.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return [
            "a qualified name "
            + _regex_error(_QUALIFIED_MESSAGE, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {m}" for m in dns1123_subdomain(prefix)]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX:
        errs.append("name part " + _max_len(QUALIFIED_NAME_MAX))
    if not _FULL[_QUALIFIED_NAME].match(name):
        errs.append(
            "name part "
            + _regex_error(_QUALIFIED_MESSAGE, _QUALIFIED_NAME, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value(value: str) -> list[str]:
    errs = [_max_len(LABEL_VALUE_MAX)] if len(value) > LABEL_VALUE_MAX else []
    if not _LABEL_VALUE_RE.match(value):
        errs.append(_regex_error(_VALUE_MESSAGE, _LABEL_VALUE, "MyValue", "my_value", "12345"))
    return errs


def _invalid(field: str, value: Any, message: str) -> JSON:
    return cause("FieldValueInvalid", field, f"Invalid value: {json.dumps(value)}: {message}")


def name_causes(name: str, *, label: bool = False) -> list[JSON]:
    """`metadata.name`: an RFC 1123 subdomain, or a label for namespaces."""
    messages = dns1123_label(name) if label else dns1123_subdomain(name)
    return [_invalid("metadata.name", name, m) for m in messages]


def metadata_causes(meta: JSON) -> list[JSON]:
    """Labels and annotations, as ValidateObjectMeta checks them."""
    causes: list[JSON] = []
    labels = meta.get("labels") or {}
    for key, value in labels.items():
        causes += [_invalid("metadata.labels", key, m) for m in qualified_name(str(key))]
        text = value if isinstance(value, str) else str(value)
        causes += [_invalid("metadata.labels", text, m) for m in label_value(text)]
    annotations = meta.get("annotations") or {}
    for key in annotations:
        causes += [
            _invalid("metadata.annotations", key, m) for m in qualified_name(str(key).lower())
        ]
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > ANNOTATIONS_MAX_BYTES:
        causes.append(
            cause(
                "FieldValueTooLong",
                "metadata.annotations",
                f"Too long: may not be more than {ANNOTATIONS_MAX_BYTES} bytes",
            )
        )
    return causes
