"""`asr-operator run`: where its health and metrics endpoints listen (docs/install.md)."""

from __future__ import annotations

from asr_operator.controllers.run import parser


def test_endpoints_listen_on_the_pod_ip_by_default_and_on_a_given_address() -> None:
    default = parser().parse_args(["-A", "--metrics-port", "9090"])
    assert default.metrics_address == "0.0.0.0"
    assert default.liveness == "http://0.0.0.0:8080/healthz"
    local = parser().parse_args(
        ["-A", "--metrics-address", "127.0.0.1", "--liveness", "http://127.0.0.1:8080/healthz"]
    )
    assert local.metrics_address == "127.0.0.1"
