"""CEL rules attached to models; the CRD generator copies them into x-kubernetes-validations."""

from __future__ import annotations

from pydantic import ConfigDict


def rules(*pairs: tuple[str, str]) -> ConfigDict:
    """Model config carrying (rule, message) pairs, evaluated with `self` bound to the object."""
    return ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [{"rule": r, "message": m} for r, m in pairs],
        }
    )
