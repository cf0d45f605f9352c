"""The CRD copies that kustomize and Helm need beside them must equal crds/.

kustomize refuses files outside a kustomization's directory and Helm packages only
files inside the chart, so both hold copies. Refresh them with
`asr-operator crds --output-dir <dir>` for each directory named below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.manifests.crd_admission import ROOT

SOURCE = ROOT / "crds"
COPIES = [ROOT / "deploy" / "crds", ROOT / "charts" / "asr-operator" / "files" / "crds"]


@pytest.mark.parametrize("copy", COPIES, ids=lambda p: str(p.relative_to(ROOT)))
def test_copy_equals_crds(copy: Path) -> None:
    want = {p.name: p.read_bytes() for p in SOURCE.glob("*.yaml")}
    have = {p.name: p.read_bytes() for p in copy.glob("*.yaml") if p.name != "kustomization.yaml"}
    where = copy.relative_to(ROOT)
    assert sorted(have) == sorted(want), f"run: asr-operator crds --output-dir {where}"
    for name, text in want.items():
        assert have[name] == text, f"{where}/{name} drifted: asr-operator crds --output-dir {where}"


def test_deploy_crds_kustomization_lists_every_crd() -> None:
    listed = (ROOT / "deploy" / "crds" / "kustomization.yaml").read_text(encoding="utf-8")
    for path in SOURCE.glob("*.yaml"):
        assert f"- {path.name}\n" in listed
