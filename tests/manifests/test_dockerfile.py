"""The Dockerfile builds the image the manifests pull, as they run it: the pod's UID, the
entrypoint the Deployment's command names, the simulators' extra left out.
(`make image-check` runs its install steps; this reads what it declares.)"""

from __future__ import annotations

import re

import yaml

from tests.manifests.crd_admission import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _instructions(keyword: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{keyword} (.*)$", joined, re.M)]


def test_the_image_runs_as_the_pod_spec_uid_and_entrypoint() -> None:
    deployment = yaml.safe_load((ROOT / "deploy" / "base" / "deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    uid, gid = pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]
    assert _instructions("USER") == [f"{uid}:{gid}"]
    assert _instructions("ENTRYPOINT") == ['["asr-operator", "run"]']
    assert container["command"][:2] == ["asr-operator", "run"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert any("PYTHONDONTWRITEBYTECODE=1" in env for env in _instructions("ENV"))


def test_the_image_installs_the_operator_without_the_sim_extra() -> None:
    runs = " ".join(_instructions("RUN"))
    assert "--no-index" in runs and " asr-operator " in f"{runs} "
    assert "[sim]" not in runs and "[dev" not in runs


def test_two_stages_and_no_compiler_in_the_runtime() -> None:
    stages = _instructions("FROM")
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    assert not re.search(r"\b(gcc|build-essential|apt-get)\b", DOCKERFILE)
