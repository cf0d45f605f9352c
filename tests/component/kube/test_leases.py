"""Leader election on the stand-in's Leases: one holder at a time, take-over, conflicts."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import kubernetes
import pytest
from kubernetes.client import ApiException, CoordinationV1Api

from asr_operator.controllers.leadership import Elector, LeaseConfig, Renewer

from .conftest import NAMESPACE


@pytest.fixture()
def leases(api_client: kubernetes.client.ApiClient) -> CoordinationV1Api:
    return CoordinationV1Api(api_client)


def unreachable() -> kubernetes.client.Configuration:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    config = kubernetes.client.Configuration()
    config.host = f"http://127.0.0.1:{port}"
    config.retries = 0
    return config


def elector(api: CoordinationV1Api, identity: str) -> Elector:
    # The Lease records whole seconds: the shortest duration it can hold.
    config = LeaseConfig("op", NAMESPACE, identity, 2.0, 1.2, 0.3)
    return Elector(config, api)


def test_leases_are_discovered_and_listed_with_their_holder(
    leases: CoordinationV1Api, kubectl: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    assert elector(leases, "a").try_acquire_or_renew()
    out = kubectl("get", "leases", "-n", NAMESPACE).stdout
    assert "op" in out and "a" in out.split("\n")[1]


def test_one_holder_and_the_other_takes_over_only_after_the_lease_duration(
    leases: CoordinationV1Api,
) -> None:
    a, b = elector(leases, "a"), elector(leases, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b first sees the record: its clock starts now
    assert a.try_acquire_or_renew()  # a renews: the record changes
    assert not b.try_acquire_or_renew()
    time.sleep(2.1)  # a stops renewing (killed)
    assert b.try_acquire_or_renew()
    lease = leases.read_namespaced_lease("op", NAMESPACE)
    assert lease.spec.holder_identity == "b" and lease.spec.lease_transitions == 1
    assert not a.try_acquire_or_renew()  # a, back, is a standby now


def test_a_replace_with_a_stale_resource_version_is_refused(leases: CoordinationV1Api) -> None:
    assert elector(leases, "a").try_acquire_or_renew()
    stale = leases.read_namespaced_lease("op", NAMESPACE)
    assert elector(leases, "a").try_acquire_or_renew()  # moves the resourceVersion
    stale.spec.holder_identity = "b"
    with pytest.raises(ApiException) as e:
        leases.replace_namespaced_lease("op", NAMESPACE, stale)
    assert e.value.status == 409
    assert leases.read_namespaced_lease("op", NAMESPACE).spec.holder_identity == "a"


def test_release_hands_the_lease_over_at_once(leases: CoordinationV1Api) -> None:
    a, b = elector(leases, "a"), elector(leases, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.release()
    assert b.try_acquire_or_renew()


def test_the_renewer_gives_up_after_the_renew_deadline(leases: CoordinationV1Api) -> None:
    a = elector(leases, "a")
    assert a.try_acquire_or_renew()
    lost: list[float] = []
    renewer = Renewer(a, lost=lambda: lost.append(time.monotonic()))
    started = time.monotonic()
    renewer.start()
    time.sleep(0.6)
    assert not lost  # renewing fine
    # The API server stops answering (as in a partition): renewals fail.
    a.api = CoordinationV1Api(kubernetes.client.ApiClient(unreachable()))
    renewer.join(10)
    assert lost and lost[0] - started >= a.config.renew_deadline


def test_the_renewer_stops_at_once_when_another_replica_holds_the_lease(
    leases: CoordinationV1Api,
) -> None:
    a = elector(leases, "a")
    assert a.try_acquire_or_renew()
    lost: list[float] = []
    renewer = Renewer(a, lost=lambda: lost.append(time.monotonic()))
    renewer.start()
    lease = leases.read_namespaced_lease("op", NAMESPACE)
    lease.spec.holder_identity = "b"
    leases.replace_namespaced_lease("op", NAMESPACE, lease)
    taken = time.monotonic()
    renewer.join(5)
    assert lost and lost[0] - taken < a.config.renew_deadline
