"""Decoding of the protobuf bodies kubectl's typed clients send for a few built-ins.

`kubectl create namespace|configmap|secret` POSTs `application/vnd.kubernetes.protobuf`
(a `k8s\\0` magic, then a `runtime.Unknown` envelope). Only those kinds are decoded, from
their field numbers in k8s.io/api generated.proto; responses are always JSON, which
clients accept because they list it in Accept.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from .errors import unsupported_media_type

JSON = dict[str, Any]
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, varint or length-delimited bytes); fixed-width fields are skipped."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _text(value: int | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry(value: int | bytes) -> tuple[str, bytes]:
    parts = dict(_fields(value)) if isinstance(value, bytes) else {}
    key, item = parts.get(1, b""), parts.get(2, b"")
    return _text(key), item if isinstance(item, bytes) else b""


def _metadata(data: bytes) -> JSON:
    meta: JSON = {}
    for number, value in _fields(data):
        if number in (1, 2, 3) and value:  # proto2 optional strings arrive empty
            meta[("name", "generateName", "namespace")[number - 1]] = _text(value)
        elif number in (11, 12):
            key, item = _entry(value)
            meta.setdefault("labels" if number == 11 else "annotations", {})[key] = item.decode()
        elif number == 14:
            meta.setdefault("finalizers", []).append(_text(value))
    return meta


def _string_map(target: JSON, name: str, value: int | bytes) -> None:
    key, item = _entry(value)
    target.setdefault(name, {})[key] = item.decode()


def _bytes_map(target: JSON, name: str, value: int | bytes) -> None:
    key, item = _entry(value)
    target.setdefault(name, {})[key] = base64.b64encode(item).decode()


def _config_map(obj: JSON, number: int, value: int | bytes) -> None:
    if number == 2:
        _string_map(obj, "data", value)
    elif number == 3:
        _bytes_map(obj, "binaryData", value)
    elif number == 4:
        obj["immutable"] = bool(value)


def _secret(obj: JSON, number: int, value: int | bytes) -> None:
    if number == 2:
        _bytes_map(obj, "data", value)
    elif number == 3 and value:
        obj["type"] = _text(value)
    elif number == 4:
        _string_map(obj, "stringData", value)
    elif number == 5:
        obj["immutable"] = bool(value)


def _namespace(obj: JSON, number: int, value: int | bytes) -> None:
    if number == 2 and isinstance(value, bytes):
        finalizers = [_text(v) for n, v in _fields(value) if n == 1]
        obj["spec"] = {"finalizers": finalizers} if finalizers else {}


_KINDS: dict[str, Callable[[JSON, int, int | bytes], None]] = {
    "ConfigMap": _config_map,
    "Secret": _secret,
    "Namespace": _namespace,
}


def decode(data: bytes) -> JSON:
    if not data.startswith(_MAGIC):
        raise unsupported_media_type(MEDIA_TYPE)
    envelope = dict(_fields(data[len(_MAGIC) :]))
    type_meta = envelope.get(1, b"")
    raw = envelope.get(2, b"")
    type_fields = dict(_fields(type_meta)) if isinstance(type_meta, bytes) else {}
    api_version, kind = _text(type_fields.get(1, b"")), _text(type_fields.get(2, b""))
    if kind not in _KINDS or not isinstance(raw, bytes):
        raise unsupported_media_type(f"{MEDIA_TYPE} for {kind or 'this kind'}")
    obj: JSON = {"apiVersion": api_version, "kind": kind}
    for number, value in _fields(raw):
        if number == 1 and isinstance(value, bytes):
            obj["metadata"] = _metadata(value)
        else:
            _KINDS[kind](obj, number, value)
    return obj
