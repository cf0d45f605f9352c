"""`asr-operator run`: start the operator (kopf) with production settings."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import uuid
from collections.abc import Sequence
from contextlib import nullcontext
from typing import TextIO

import kopf
import kubernetes.client
import kubernetes.config

from asr_operator import metrics
from asr_operator.api import protectedvm, recoveryplan
from asr_operator.api.common import GROUP
from asr_operator.azure.config import CallLimits
from asr_operator.controllers import leadership
from asr_operator.controllers.leadership import LeaseConfig

FINALIZER = f"{GROUP}/finalizer"
AZURE_LOG_ENV = "ASR_OPERATOR_AZURE_LOG_LEVEL"
POD_NAME_ENV, POD_NAMESPACE_ENV = "POD_NAME", "POD_NAMESPACE"
LOG_FORMATS = {
    "plain": kopf.LogFormat.PLAIN,
    "full": kopf.LogFormat.FULL,
    "json": kopf.LogFormat.JSON,
}


class VaultsOnlyDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's record of the last handled spec, kept for Vaults only.

    ProtectedVM and RecoveryPlan have no create or update handler: their daemons compare
    generations themselves (`cycle.wakes`). kopf still runs its change detection for
    their deletion handler and would PATCH `last-handled-configuration` on every spec
    change: a Kubernetes write, and the watch event it echoes, per object and change,
    a thousand of each when a whole site fails over. Reporting the object as handled as
    it stands makes each change a no-op for kopf; deletion is detected before any diff.
    """

    DAEMON_KINDS = frozenset({protectedvm.KIND, recoveryplan.KIND})

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        if body.get("kind") in self.DAEMON_KINDS:
            return self.build(body=body)
        return super().fetch(body=body)


def settings(server_timeout: int) -> kopf.OperatorSettings:
    s = kopf.OperatorSettings()
    s.persistence.finalizer = FINALIZER
    # kopf's own bookkeeping goes to annotations; status belongs to the operator's schema.
    s.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    s.persistence.diffbase_storage = VaultsOnlyDiffBase(
        prefix=GROUP, key="last-handled-configuration"
    )
    # Reconnect watches regularly so a silently dead connection is noticed.
    s.watching.server_timeout = server_timeout
    s.watching.client_timeout = server_timeout + 30
    s.watching.connect_timeout = 30
    s.networking.request_timeout = 60
    # Events come from the controllers on purpose; handler log lines stay in logs.
    s.posting.level = logging.WARNING
    s.posting.reporting_component = "asr-operator"
    s.posting.event_name_prefix = "asr-operator-"
    return s


def default_log_format(stream: TextIO = sys.stderr) -> str:
    """JSON for log collectors; text for a human at a terminal."""
    return "full" if stream.isatty() else "json"


def configure_logging(log_format: str, level: str, azure_level: str) -> None:
    kopf.configure(
        debug=level == "debug",
        verbose=level == "debug",
        quiet=level == "error",
        log_format=LOG_FORMATS[log_format],
    )
    if level == "warning":
        logging.getLogger().setLevel(logging.WARNING)
    # azure-core logs each HTTP request and response at info: only on request.
    logging.getLogger("azure").setLevel(azure_level.upper())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr-operator run", description=__doc__)
    scope = p.add_mutually_exclusive_group(required=True)
    scope.add_argument(
        "-n", "--namespace", action="append", default=[], help="watch this namespace (repeatable)"
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    p.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        help="liveness and readiness endpoint URL ('' to disable); 0.0.0.0 because the kubelet "
        "probes the pod's IP; on a shared host give 127.0.0.1",
    )
    p.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics (0: off)")
    p.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        help="address the metrics endpoint binds (default 0.0.0.0: Prometheus scrapes the pod's "
        "IP; give 127.0.0.1 outside a pod)",
    )
    p.add_argument(
        "--log-format",
        choices=sorted(LOG_FORMATS),
        default=None,
        help="json: one JSON object a line, the object under `object` (default when stderr "
        "is not a terminal, as in a pod); full: text with time and level (default on a "
        "terminal); plain: the message only",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    p.add_argument(
        "--azure-log-level",
        choices=["debug", "info", "warning", "error"],
        default=os.environ.get(AZURE_LOG_ENV, "warning").lower(),
        help="level of the Azure SDK's own loggers; at info azure-core logs every HTTP "
        f"request and response (default warning, or ${AZURE_LOG_ENV})",
    )
    p.add_argument("--watch-timeout", type=int, default=300, help="seconds per watch request")
    election = p.add_argument_group(
        "leader election", "run several replicas, of which only the Lease holder acts"
    )
    election.add_argument(
        "--leader-election",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="act only while holding a coordination.k8s.io Lease (default off; on in the "
        "Helm chart and kustomize install)",
    )
    election.add_argument("--lease-name", default="asr-operator", help="the Lease's name")
    election.add_argument(
        "--lease-namespace",
        default=os.environ.get(POD_NAMESPACE_ENV, ""),
        help=f"the Lease's namespace (default ${POD_NAMESPACE_ENV}, the pod's own)",
    )
    election.add_argument(
        "--lease-identity",
        default=os.environ.get(POD_NAME_ENV, ""),
        help=f"holderIdentity written to the Lease (default ${POD_NAME_ENV}, else the host "
        "name and a random suffix)",
    )
    defaults = LeaseConfig("", "", "")
    election.add_argument(
        "--lease-duration",
        type=float,
        default=defaults.lease_duration,
        help="seconds a standby waits after the Lease last changed before taking it",
    )
    election.add_argument(
        "--renew-deadline",
        type=float,
        default=defaults.renew_deadline,
        help="seconds the leader keeps trying to renew before it exits (less than "
        "--lease-duration)",
    )
    election.add_argument(
        "--retry-period",
        type=float,
        default=defaults.retry_period,
        help="seconds between renewals, and between a standby's attempts",
    )
    limits = CallLimits()
    p.add_argument(
        "--arm-timeout",
        type=float,
        default=limits.read_timeout,
        help="seconds to wait for an ARM answer before taking the request as unanswered",
    )
    p.add_argument(
        "--request-lifetime",
        type=float,
        default=limits.request_lifetime,
        help="seconds after it was sent that an unanswered ASR request may still act; "
        "until then it is neither sent again nor followed by another operation",
    )
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    configure_logging(args.log_format or default_log_format(), args.log_level, args.azure_log_level)
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    if args.metrics_port:
        metrics.serve(args.metrics_port, args.metrics_address)
    # Registers the handlers with kopf's default registry.
    from asr_operator.controllers import (  # noqa: F401
        memory,
        protectedvms,
        recoveryplans,
        vaults,
    )

    limits = CallLimits(read_timeout=args.arm_timeout, request_lifetime=args.request_lifetime)
    if limits.request_lifetime < limits.read_timeout:
        raise SystemExit("--request-lifetime must be at least --arm-timeout")
    elector = _elector(args) if args.leader_election else None
    renewer: leadership.Renewer | None = None
    if elector is not None:
        metrics.LEADER.set(0)
        with leadership.StandbyHealth(args.liveness) if args.liveness else nullcontext():
            elector.acquire()  # no handler runs before this replica holds the Lease
        renewer = leadership.Renewer(elector)
        renewer.start()
    metrics.LEADER.set(1)
    try:
        kopf.run(
            standalone=True,
            clusterwide=args.all_namespaces,
            namespaces=args.namespace,
            liveness_endpoint=args.liveness or None,
            settings=settings(args.watch_timeout),
            memo=kopf.Memo({vaults.LIMITS_KEY: limits}),
        )
    finally:
        if renewer is not None and elector is not None:
            renewer.stop()
            renewer.join()
            elector.release()
    return 0


def _elector(args: argparse.Namespace) -> leadership.Elector:
    if not args.lease_namespace:
        raise SystemExit(f"--leader-election needs --lease-namespace (or ${POD_NAMESPACE_ENV})")
    try:
        config = leadership.LeaseConfig(
            name=args.lease_name,
            namespace=args.lease_namespace,
            identity=args.lease_identity or f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}",
            lease_duration=args.lease_duration,
            renew_deadline=args.renew_deadline,
            retry_period=args.retry_period,
        )
    except ValueError as e:
        raise SystemExit(str(e)) from None
    return leadership.Elector(config, kubernetes.client.CoordinationV1Api())
