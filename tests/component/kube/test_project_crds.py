"""The project's generated CRDs and example manifests through the stand-in's admission."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asr_operator.sim.kube import ApiError, KubeStandInThread

ROOT = Path(__file__).resolve().parents[3]
CRDS = ROOT / "crds"
EXAMPLES = ROOT / "deploy" / "examples"

pytestmark = pytest.mark.skipif(
    not any(CRDS.glob("*.yaml")), reason="the project's CRDs are not generated yet"
)


def test_examples_are_admitted_and_printed() -> None:
    documents = [
        doc
        for path in sorted(EXAMPLES.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if isinstance(doc, dict)
    ]
    with KubeStandInThread(crds=[CRDS]) as kube:
        for doc in documents:
            doc.setdefault("metadata", {}).setdefault("namespace", "default")
            kube.ensure_namespace(doc["metadata"]["namespace"])
            if kube.get(doc["kind"], doc["metadata"]["name"], doc["metadata"]["namespace"]) is None:
                kube.create(doc)
        kinds = {doc["kind"] for doc in documents}
        for kind in kinds - {"Secret"}:
            assert kube.list_objects(kind), kind


def test_an_invalid_protected_vm_names_its_fields() -> None:
    with KubeStandInThread(crds=[CRDS]) as kube, pytest.raises(ApiError) as exc:
        kube.create(
            {
                "apiVersion": "asr-operator.io/v1alpha1",
                "kind": "ProtectedVM",
                "metadata": {"name": "bad", "namespace": "default"},
                "spec": {"activeSite": "Mars"},
            }
        )
    assert exc.value.code == 422
    assert exc.value.message.startswith('ProtectedVM.asr-operator.io "bad" is invalid: [')
    fields = {c["field"] for c in exc.value.details["causes"]}  # type: ignore[index]
    assert "spec.activeSite" in fields
