"""The README's first command, run non-interactively: the demo story must complete."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from asr_operator.sim import demo


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """One run of the demo (a minute of wall time), shared by the checks below."""
    workdir = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = demo.main(
            ["--time-scale", "0.05", "--pause", "0", "--no-live", "--workdir", str(workdir)]
        )
    return rc, out.getvalue(), workdir


def chapter_output(flat: str, title_part: str) -> str:
    """What a chapter printed after its title, up to the next chapter."""
    return flat.split(title_part, 1)[1].split("→", 1)[0]


def test_demo_story_completes(story: tuple[int, str, Path]) -> None:
    rc, out, workdir = story
    assert rc == 0, out
    assert "Story completed" in out
    flat = " ".join(out.split())
    for chapter in demo.chapters():
        assert " ".join(chapter.title.split(":")[0][:30].split()) in flat
    # The summary lists every operation of the story with its measured duration.
    for op in (
        "TestFailover",
        "TestFailoverCleanup",
        "Failover",
        "Commit",
        "Failback",
        "FailbackCommit",
        "ReverseReplication",
    ):
        assert op in out
    assert (workdir / "kubeconfig").exists()
    # Where to point kubectl and asr-operator, before the story starts.
    head = out.split("→", 1)[0]
    assert f"export KUBECONFIG={workdir / 'kubeconfig'}" in head
    assert "asr-operator" in head and "status -n demo" in head
    # Piped, each step is a line of its own (the state each chapter ends in at least), and
    # an approval's token is never cut. (Events trail status, so which line carries the
    # ApprovalRequired Event depends on timing: every one that does carries it whole.)
    assert re.search(r"· web01: AwaitingCommit", out)
    assert re.search(r"· db01: Stalled", out)
    offered = re.findall(r"set spec\.approve to '([^']*)'?", out)
    assert all(re.fullmatch(r"[a-z]+-[0-9a-f]{8}", t) for t in offered), offered


def test_demo_recovery_plan_chapter(story: tuple[int, str, Path]) -> None:
    """plan-web runs group by group, stops at its manual action until approved through
    spec, commits when approved, and the ProtectedVMs of its VMs defer to it."""
    rc, out, _ = story
    assert rc == 0, out
    flat = " ".join(out.split())
    # Stopped at the manual action: db01 (Boot 1) and app01 (Boot 2) are up, web01 is not.
    at_action = chapter_output(flat, "the job stops at the manual action")
    assert "plan-web FailingOver: Boot 3: waiting at manual action 'confirm-dns'." in at_action
    assert "Shutdown 3/3 Succeeded, Failover 3/3 Succeeded" in at_action
    assert "Boot 1 1/1 Succeeded, Boot 2 1/1 Succeeded, Boot 3 0/1 Suspended" in at_action
    # Approved through spec.approve: the job went on and web01 booted; the commit waits.
    resumed = chapter_output(flat, "approve the manual action")
    assert "plan-web AwaitingCommit: awaiting approval: Commit." in resumed
    assert "Boot 3 1/1 Succeeded" in resumed
    # Committed: every VM of the plan runs in Azure; the ProtectedVMs of its VMs stalled
    # (OwnedByRecoveryPlan) and, once told the plan's site, report Ready without acting.
    committed = chapter_output(flat, "approve the commit of the whole plan")
    assert "plan-web FailedOver:" in committed
    # The commit job has no groups: the failover's group results stay on show.
    assert "Boot 3 1/1 Succeeded" in committed
    assert committed.count("Stalled (OwnedByRecoveryPlan)") == 3
    followed = chapter_output(flat, "they defer to the plan and are Ready")
    assert "ProtectedVMs: db01 FailedOver, app01 FailedOver, web01 FailedOver" in followed
    summary = flat.split("Operations and their measured durations", 1)[1]
    assert "plan-web │ Failover │ Succeeded" in summary
    assert "plan-web │ Commit │ Succeeded" in summary
