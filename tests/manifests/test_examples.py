"""deploy/examples: every custom resource is admitted by the generated CRDs, and the
examples reference each other consistently (vaults, Secrets, hosts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from asr_operator.api import crds
from tests.manifests.crd_admission import ROOT, Manifest, admit, is_custom_resource, load_all

EXAMPLES = ROOT / "deploy" / "examples"


def manifests(*, nested: bool = True) -> list[tuple[Path, Manifest]]:
    """Every document of the examples; nested: also those of subdirectories (demo sets)."""
    paths = sorted(EXAMPLES.rglob("*.yaml") if nested else EXAMPLES.glob("*.yaml"))
    return [(path, doc) for path in paths for doc in load_all(path)]


def custom_resources() -> list[Any]:
    return [
        pytest.param(
            doc, id=f"{path.relative_to(EXAMPLES)}/{doc['kind']}/{doc['metadata']['name']}"
        )
        for path, doc in manifests()
        if is_custom_resource(doc)
    ]


SPEC_MODELS = {resource.kind: resource.spec for resource in crds.RESOURCES}


@pytest.mark.parametrize("manifest", custom_resources())
def test_example_is_admitted(manifest: Manifest) -> None:
    stored = admit(manifest)
    # The operator parses the stored spec with the typed API: it must agree with the CRD.
    SPEC_MODELS[manifest["kind"]].model_validate(stored["spec"])


def test_every_document_is_a_known_kind() -> None:
    for path, doc in manifests():
        assert is_custom_resource(doc) or (doc["apiVersion"], doc["kind"]) == ("v1", "Secret"), (
            f"{path.name}: unexpected {doc['kind']}"
        )


def test_examples_cover_the_documented_scenarios() -> None:
    docs = [doc for _, doc in manifests(nested=False)]
    kinds = {doc["kind"] for doc in docs}
    assert kinds == {"Secret", "SiteRecoveryVault", "ProtectedVM", "RecoveryPlan"}
    auth = {d["spec"]["authentication"]["type"] for d in docs if d["kind"] == "SiteRecoveryVault"}
    assert auth == {"ClientSecret", "WorkloadIdentity"}
    pvms = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "ProtectedVM"}
    assert pvms["web01"]["failover"]["commit"] == "Manual" and pvms["web01"]["target"]
    assert pvms["app01"]["failover"]["commit"] == "Automatic"
    assert pvms["app01"]["failover"]["validation"]["tcpPorts"]
    assert any(spec.get("testFailover", {}).get("requestId") for spec in pvms.values())


def test_references_resolve() -> None:
    """vaultRef, Secret refs and hyperV.host name objects the examples define."""
    docs = [doc for _, doc in manifests(nested=False)]
    secrets = {d["metadata"]["name"] for d in docs if d["kind"] == "Secret"}
    vaults = [d for d in docs if d["kind"] == "SiteRecoveryVault"]
    # CA bundles come from files the user has (see the comments), not from examples.
    created_by_hand = {"asr-sim-ca", "hv-ca"}
    hosts: set[str] = set()
    for vault in vaults:
        spec = vault["spec"]
        refs = [spec.get("caSecretRef"), spec["authentication"].get("secretRef")]
        for host in spec.get("hyperVHosts", []):
            hosts.add(host["name"])
            refs += [host["credentialsSecretRef"], host.get("caSecretRef")]
        for ref in filter(None, refs):
            assert ref["name"] in secrets | created_by_hand, f"unknown Secret {ref['name']}"
    vault_names = {v["metadata"]["name"] for v in vaults}
    for doc in docs:
        if doc["kind"] in ("ProtectedVM", "RecoveryPlan"):
            assert doc["spec"]["vaultRef"]["name"] in vault_names
            hyper_v = doc["spec"].get("hyperV")
            # A ProtectedVM names one host, a RecoveryPlan one per member.
            members = hyper_v if isinstance(hyper_v, list) else [hyper_v] if hyper_v else []
            for member in members:
                assert member["host"] in hosts


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML as yamllint's key-duplicates rule reads it: a key twice in a mapping is an error
    (kubectl, Argo CD and Flux would keep the last one in silence)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicated key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_unique(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=UniqueKeyLoader))


def test_a_duplicated_key_is_caught() -> None:
    """A duplicated activeSite is a silent failover: the linter docs/gitops.md asks for."""
    text = "spec:\n  activeSite: OnPremises\n  vaultRef: {name: v}\n  activeSite: Azure\n"
    assert yaml.safe_load(text)["spec"]["activeSite"] == "Azure"  # what kubectl would apply
    with pytest.raises(yaml.constructor.ConstructorError, match="activeSite"):
        load_unique(text)


@pytest.mark.parametrize(
    "path",
    sorted([*(ROOT / "deploy").rglob("*.yaml"), *(ROOT / "crds").glob("*.yaml")]),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_manifest_has_a_duplicated_key(path: Path) -> None:
    load_unique(path.read_text(encoding="utf-8"))
