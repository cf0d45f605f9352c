"""How the verbs reach the cluster: kubeconfig, context and namespace resolved as kubectl
resolves them, and the two kinds a person acts on (ProtectedVM, RecoveryPlan)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import kubernetes
from kubernetes.client.exceptions import ApiException

from asr_operator.api import protectedvm, recoveryplan
from asr_operator.api.common import GROUP, VERSION

JSON = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    kind: str
    plural: str
    names: tuple[str, ...]  # what a person may write before "/NAME"


PROTECTED_VM = Kind(protectedvm.KIND, protectedvm.PLURAL, ("protectedvm", "pvm"))
RECOVERY_PLAN = Kind(recoveryplan.KIND, recoveryplan.PLURAL, ("recoveryplan", "rplan"))
KINDS = (PROTECTED_VM, RECOVERY_PLAN)


class CommandError(Exception):
    """A refusal or failure to report to the person, with no traceback."""


def parse_ref(ref: str) -> tuple[Kind | None, str]:
    """`web01`, `protectedvm/web01`, `pvm/web01`, `recoveryplans/dr-web` -> (kind, name)."""
    if "/" not in ref:
        return None, ref
    prefix, name = ref.split("/", 1)
    word = prefix.lower().split(".", 1)[0]
    for kind in KINDS:
        if word in (*kind.names, kind.plural):
            return kind, name
    raise CommandError(
        f"unknown kind {prefix!r}: use protectedvm/NAME (pvm) or recoveryplan/NAME (rplan)"
    )


class Cluster:
    """The custom objects of one kubeconfig context, in one namespace (or all)."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
    ) -> None:
        try:
            load = kubernetes.config
            self.api_client = load.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context
            )
            contexts, active = load.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=kubeconfig
            )
            if context is not None:
                active = next((c for c in contexts if c["name"] == context), active)
        except (kubernetes.config.ConfigException, OSError) as e:
            raise CommandError(f"cannot load the kubeconfig: {e}") from e
        default = (active or {}).get("context", {}).get("namespace") or "default"
        self.namespace: str = namespace or default
        self.custom = kubernetes.client.CustomObjectsApi(self.api_client)

    def get(self, kind: Kind, name: str, namespace: str | None = None) -> JSON | None:
        try:
            obj = cast(
                JSON,
                self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, namespace or self.namespace, kind.plural, name
                ),
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise CommandError(_api_error(e)) from e
        return obj

    def list(self, kind: Kind, all_namespaces: bool = False) -> list[JSON]:
        try:
            if all_namespaces:
                found = cast(
                    JSON, self.custom.list_cluster_custom_object(GROUP, VERSION, kind.plural)
                )
            else:
                found = cast(
                    JSON,
                    self.custom.list_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, kind.plural
                    ),
                )
        except ApiException as e:
            raise CommandError(_api_error(e)) from e
        items: list[JSON] = found.get("items", [])
        return items

    def find(self, ref: str) -> tuple[Kind, JSON]:
        """The one object a NAME (or KIND/NAME) names in the namespace."""
        kind, name = parse_ref(ref)
        kinds = (kind,) if kind is not None else KINDS
        found = [(k, obj) for k in kinds if (obj := self.get(k, name)) is not None]
        if not found:
            what = kind.kind if kind else "ProtectedVM or RecoveryPlan"
            raise CommandError(f"no {what} named {name!r} in namespace {self.namespace!r}")
        if len(found) > 1:
            raise CommandError(
                f"both a ProtectedVM and a RecoveryPlan are named {name!r}: "
                f"write protectedvm/{name} or recoveryplan/{name}"
            )
        return found[0]

    def patch_spec(self, kind: Kind, name: str, spec: JSON) -> JSON:
        """A JSON merge patch of spec; admission refusals come back as CommandError."""
        return self._merge(kind, name, {"spec": spec})

    def annotate(self, kind: Kind, name: str, key: str, value: str) -> JSON:
        return self._merge(kind, name, {"metadata": {"annotations": {key: value}}})

    def _merge(self, kind: Kind, name: str, patch: JSON) -> JSON:
        try:
            obj = cast(
                JSON,
                self.custom.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    self.namespace,
                    kind.plural,
                    name,
                    patch,
                    _content_type="application/merge-patch+json",
                ),
            )
        except ApiException as e:
            raise CommandError(_api_error(e)) from e
        return obj


def _api_error(e: ApiException) -> str:
    """The API server's own message (an admission refusal names the field)."""
    try:
        body = json.loads(e.body or "{}")
    except ValueError:
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return f"the API server answered {e.status}: {message or e.reason}"
