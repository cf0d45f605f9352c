"""The README's first command, run non-interactively: the demo story must complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from asr_operator.sim import demo


def test_demo_story_completes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = demo.main(
        ["--time-scale", "0.05", "--pause", "0", "--no-live", "--workdir", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "Story completed" in out
    for chapter in demo.chapters():
        assert chapter.title.split(":")[0][:30] in out.replace("\n", " ")
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
    assert (tmp_path / "kubeconfig").exists()
