"""Writing status: a JSON merge patch from the status we read to the one we want."""

from __future__ import annotations

from typing import Any


def merge_patch(old: Any, new: Any) -> Any:
    """The RFC 7386 patch that turns `old` into `new` (None: nothing to change).

    Keys that disappeared become explicit nulls, so a cleared `operation` is really
    cleared on the server instead of lingering from the previous write.
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        if key not in old:
            patch[key] = value
            continue
        sub = merge_patch(old[key], value)
        if sub is not None or (value is None and old[key] is not None):
            patch[key] = sub
    return patch or None
