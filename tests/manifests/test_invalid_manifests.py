"""A corpus of manifests a cluster must refuse, each naming the field at fault.

Every file in invalid/ carries header comments:
  # expect: <field path>     the one field the apiserver's error names (required)
  # message: <text>          a substring of that error (optional)
  # xfail: <why>             a known gap in the API's schema (optional; strict)
Each file holds exactly one mistake: the test also fails if the error names any other
field, so a manifest cannot pass for the wrong reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.manifests.crd_admission import ApiError, admit, is_custom_resource, load_all

CORPUS = Path(__file__).parent / "invalid"
_HEADER = re.compile(r"^#\s*(expect|message|xfail):\s*(.+?)\s*$", re.MULTILINE)
_UNKNOWN = re.compile(r'unknown field "([^"]+)"')


@dataclass(frozen=True)
class Case:
    path: Path
    expect: str
    message: str
    xfail: str


def load_case(path: Path) -> Case:
    headers = dict(_HEADER.findall(path.read_text(encoding="utf-8")))
    if "expect" not in headers:
        raise AssertionError(f"{path.name}: no '# expect: <field path>' line")
    return Case(path, headers["expect"], headers.get("message", ""), headers.get("xfail", ""))


def cases() -> list[Any]:
    out = []
    for path in sorted(CORPUS.glob("*.yaml")):
        case = load_case(path)
        marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
        out.append(pytest.param(case, id=path.stem, marks=marks))
    return out


def refused_fields(error: ApiError) -> set[str]:
    """The field paths an apiserver error names: 422 causes, or strict-decoding's fields."""
    causes = (error.details or {}).get("causes") or []
    if causes:
        return {c["field"] for c in causes}
    return set(_UNKNOWN.findall(error.message))


@pytest.mark.parametrize("case", cases())
def test_refused_naming_the_field(case: Case) -> None:
    (manifest,) = load_all(case.path)
    assert is_custom_resource(manifest), f"{case.path.name}: not one of the project's kinds"
    with pytest.raises(ApiError) as refused:
        admit(manifest)
    error = refused.value
    assert error.code in (400, 422)
    assert refused_fields(error) == {case.expect}, error.message
    assert case.expect in error.message
    assert case.message in error.message


def test_corpus_is_broad() -> None:
    """Enough cases, across all three kinds, with no duplicated manifest."""
    paths = sorted(CORPUS.glob("*.yaml"))
    assert len(paths) >= 25
    kinds = {load_all(p)[0]["kind"] for p in paths}
    assert kinds == {"ProtectedVM", "RecoveryPlan", "SiteRecoveryVault"}
    bodies = [re.sub(r"^#.*\n", "", p.read_text(encoding="utf-8"), flags=re.M) for p in paths]
    assert len(set(bodies)) == len(bodies)
