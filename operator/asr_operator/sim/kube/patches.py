"""The patch formats the apiserver accepts (merge, JSON patch), with its error codes."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from .errors import ApiError, bad_request, unsupported_media_type

JSON = dict[str, Any]

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(obj: JSON, content_type: str, body: Any, *, custom: bool) -> JSON:
    """The patched copy of `obj`; strategic merge is a merge patch for built-ins only."""
    kind = content_type.split(";")[0].strip()
    if kind == JSON_PATCH:
        if not isinstance(body, list):
            raise bad_request("json patch must be a list of operations")
        try:
            result = jsonpatch.JsonPatch(body).apply(obj)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            # kopf relies on this: a failed `test` op is 422 and means "retry later".
            raise ApiError(
                422,
                "Invalid",
                f"the server rejected our request due to an error in our request: {exc}",
            ) from exc
        if not isinstance(result, dict):
            raise ApiError(422, "Invalid", "the patch replaced the whole object with a non-object")
        return result
    if kind == MERGE or (kind == STRATEGIC and not custom):
        if not isinstance(body, dict):
            raise bad_request("merge patch must be a JSON object")
        patched = merge_patch(obj, body)
        assert isinstance(patched, dict)
        return patched
    raise unsupported_media_type(kind)
