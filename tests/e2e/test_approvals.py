"""Approval gates that answer, seen through the API as a person sees them: one
ApprovalRequired Event with the token when a gate opens, a Warning and a status message
naming the expected token for a value that matches no gate, and nothing sent until the
right token is set."""

from __future__ import annotations

from tests.e2e.conftest import Cluster, Operator, action_calls


def test_a_wrong_token_is_answered_and_holds_everything(
    cluster: Cluster, operator: Operator
) -> None:
    cluster.create_pvm("web01", activeSite="Azure")
    status = cluster.wait_for(
        "web01", lambda s: s.get("awaitingApproval"), timeout=90, what="the commit gate"
    )
    token = status["awaitingApproval"]["token"]
    assert status["reason"] == "CommitApproval"
    required = [m for _, r, m in cluster.events("web01") if r == "ApprovalRequired"]
    assert len(required) == 1 and token in required[0]

    typo = token[:-1] + ("0" if token[-1] != "0" else "1")
    cluster.patch_spec("web01", {"approve": typo})
    status = cluster.wait_for(
        "web01", lambda s: s.get("unrecognizedApproval") == typo, what="the typo answered"
    )
    waiting = cluster.condition("web01", "AwaitingApproval")
    assert waiting["status"] == "True" and token in waiting["message"], waiting
    assert typo in waiting["message"]
    warnings = [e for e in cluster.events("web01") if e[1] == "ApprovalNotRecognized"]
    assert len(warnings) == 1 and warnings[0][0] == "Warning" and token in warnings[0][2]
    assert "items.failoverCommit" not in action_calls(operator.dc)
    assert status["phase"] == "AwaitingCommit"

    cluster.patch_spec("web01", {"approve": token})
    status = cluster.wait_ready("web01", timeout=90)
    assert status["phase"] == "FailedOver" and status["acceptedApproval"] == token
    assert action_calls(operator.dc)["items.failoverCommit"] == 1
    assert "unrecognizedApproval" not in status or not status["unrecognizedApproval"]
