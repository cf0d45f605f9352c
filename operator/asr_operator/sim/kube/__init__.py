"""Kubernetes API stand-in: a small apiserver kopf, the kubernetes client and kubectl use.

See docs/kube-standin.md for what it implements and what it leaves out.
"""

from .errors import ApiError
from .faults import Fault, FaultInjector
from .kubeconfig import write_kubeconfig
from .requestlog import LoggedRequest, RequestLog
from .resources import Registry, ResourceType, load_crds
from .server import KubeStandIn
from .thread import KubeStandInThread

__all__ = [
    "ApiError",
    "Fault",
    "FaultInjector",
    "KubeStandIn",
    "KubeStandInThread",
    "LoggedRequest",
    "Registry",
    "RequestLog",
    "ResourceType",
    "load_crds",
    "write_kubeconfig",
]
