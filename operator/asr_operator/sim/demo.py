"""`asr-operator demo`: the operator on the simulated datacenter, walking a failover story.

Everything runs on 127.0.0.1: the Kubernetes API stand-in, the ASR simulator (HTTPS), the
Hyper-V simulator (WinRM) and the operator itself as a child process. The story is driven
the way an on-call engineer would drive it: by changing the ProtectedVMs' spec (as
`kubectl patch` or a Git commit would) and approving gates with the token in status.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import yaml
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from asr_operator.api.common import GROUP, VERSION
from asr_operator.sim.stack import OperatorProcess, SimulatedDatacenter, bundled_scenario

PLURAL = "protectedvms"
DRILL_VNET = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-net"
    "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
)
Status = dict[str, Any]


def _default_manifests() -> Path:
    """deploy/examples/demo of the source tree this package runs from."""
    return Path(__file__).resolve().parents[3] / "deploy" / "examples" / "demo"


@dataclass(frozen=True)
class Chapter:
    """One step of the story: what the engineer does, and what shows it worked."""

    title: str
    act: Callable[[Story], None]
    done: Callable[[Story], bool]
    timeout: float = 120.0


class Story:
    def __init__(self, dc: SimulatedDatacenter) -> None:
        self.dc = dc
        self.client = dc.api_client()
        self.custom = kubernetes.client.CustomObjectsApi(self.client)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.namespace = dc.namespace

    # -- reading ------------------------------------------------------------------------

    def objects(self) -> list[dict[str, Any]]:
        out: Any = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL)
        return sorted(out.get("items", []), key=lambda o: o["metadata"]["name"])

    def status(self, name: str) -> Status:
        obj: Any = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return dict(obj.get("status") or {})

    def condition(self, name: str, type_: str) -> dict[str, Any]:
        return next((c for c in self.status(name).get("conditions", []) if c["type"] == type_), {})

    def ready(self, name: str) -> bool:
        return self.condition(name, "Ready").get("status") == "True"

    def stalled(self, name: str, reason: str) -> bool:
        c = self.condition(name, "Stalled")
        return c.get("status") == "True" and c.get("reason") == reason

    def gate(self, name: str, action: str) -> bool:
        gate = self.status(name).get("awaitingApproval") or {}
        return gate.get("action") == action

    def did(self, name: str, op: str) -> bool:
        return any(
            h["type"] == op and h["result"] == "Succeeded"
            for h in self.status(name).get("history", [])
        )

    def last_events(self) -> dict[str, str]:
        events = self.core.list_namespaced_event(self.namespace).items
        events.sort(key=lambda e: (e.metadata.creation_timestamp or 0, e.metadata.name))
        return {
            str(e.involved_object.name): f"{e.reason}: {e.message}"
            for e in events
            if e.involved_object is not None
        }

    # -- acting -------------------------------------------------------------------------

    def patch(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, {"spec": spec}
        )

    def approve(self, name: str) -> None:
        token = (self.status(name).get("awaitingApproval") or {}).get("token", "")
        self.patch(name, {"approve": token})

    def remove_checkpoints(self, host: str, vm: str) -> None:
        """What an admin does on the host: Remove-VMSnapshot, simulated."""
        state = self.dc.datacenter.vm_on_host(host, vm)
        assert state is not None
        with self.dc.datacenter.lock:
            state.checkpoints.clear()


def chapters() -> list[Chapter]:
    return [
        Chapter(
            "DR drill: test failover of app01 into an isolated network, cleaned up after 10s",
            lambda s: s.patch(
                "app01",
                {
                    "testFailover": {
                        "requestId": "demo-drill",
                        "networkId": DRILL_VNET,
                        "cleanupAfter": "10s",
                    }
                },
            ),
            lambda s: s.did("app01", "TestFailoverCleanup") and s.ready("app01"),
        ),
        Chapter(
            "Unplanned failover of db01: refused, db01 has a Hyper-V checkpoint",
            lambda s: s.patch("db01", {"activeSite": "Azure"}),
            lambda s: s.stalled("db01", "CheckpointsPresent"),
        ),
        Chapter(
            "Fix: the checkpoint is removed on hv-01; the failover goes on and commits itself",
            lambda s: s.remove_checkpoints("hv-01", "db01"),
            lambda s: s.did("db01", "Commit") and s.ready("db01"),
        ),
        Chapter(
            "Planned failover of web01 to Azure (manual commit)",
            lambda s: s.patch("web01", {"activeSite": "Azure"}),
            lambda s: s.gate("web01", "Commit"),
        ),
        Chapter(
            "web01 validated in Azure: approve the commit",
            lambda s: s.approve("web01"),
            lambda s: s.did("web01", "Commit") and s.ready("web01"),
        ),
        Chapter(
            "Fail web01 back on-premises (data sync before failover)",
            lambda s: s.patch("web01", {"activeSite": "OnPremises"}),
            lambda s: s.gate("web01", "CompleteFailback"),
        ),
        Chapter(
            "Data synced: approve completing the failback",
            lambda s: s.approve("web01"),
            lambda s: s.gate("web01", "FailbackCommit"),
        ),
        Chapter(
            "web01 runs on-premises: approve the failback commit; reverse replication follows",
            lambda s: s.approve("web01"),
            lambda s: s.did("web01", "ReverseReplication") and s.ready("web01"),
        ),
    ]


def _table(story: Story, progress: list[tuple[str, str]]) -> Group:
    table = Table(title="ProtectedVMs (namespace demo)", expand=True)
    for col in ("NAME", "DESIRED", "ACTIVE", "PHASE", "READY", "JOB", "RPO", "LAST EVENT"):
        table.add_column(col, overflow="fold")
    events = story.last_events()
    for obj in story.objects():
        name = obj["metadata"]["name"]
        st = obj.get("status") or {}
        ready = next((c["status"] for c in st.get("conditions", []) if c["type"] == "Ready"), "")
        rpo = (st.get("asr") or {}).get("rpoSeconds")
        table.add_row(
            name,
            obj["spec"].get("activeSite", ""),
            st.get("activeSite", ""),
            st.get("phase", ""),
            ready,
            st.get("job", ""),
            f"{rpo}s" if rpo is not None else "",
            events.get(name, "")[:80],
        )
    lines = [Text(f"{mark} {title}") for mark, title in progress]
    return Group(table, *lines)


def _summary(story: Story, console: Console) -> None:
    table = Table(title="Operations and their measured durations")
    for col in ("VM", "OPERATION", "RESULT", "DURATION", "RECOVERY POINT"):
        table.add_column(col)
    for obj in story.objects():
        for h in reversed((obj.get("status") or {}).get("history", [])):
            table.add_row(
                obj["metadata"]["name"],
                h["type"],
                h["result"],
                f"{h['durationSeconds']:.1f}s",
                h.get("recoveryPoint", ""),
            )
    console.print(table)


def run_story(story: Story, console: Console, live: bool, pause: float) -> bool:
    progress: list[tuple[str, str]] = []
    ok = True

    def render() -> Group:
        return _table(story, progress)

    with (
        Live(render(), console=console, refresh_per_second=4, transient=False)
        if live
        else _Quiet() as view
    ):
        for chapter in chapters():
            progress.append(("…", chapter.title))
            if not live:
                console.print(f"→ {chapter.title}")
            chapter.act(story)
            deadline = time.monotonic() + chapter.timeout
            while not chapter.done(story):
                if time.monotonic() > deadline:
                    progress[-1] = ("✗", chapter.title + " (timed out)")
                    ok = False
                    break
                if live:
                    view.update(render())
                time.sleep(0.25)
            if not ok:
                break
            progress[-1] = ("✓", chapter.title)
            if live:
                view.update(render())
            time.sleep(pause)
    return ok


class _Quiet:
    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, _: object) -> None:
        return None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="asr-operator demo", description=__doc__)
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.5,
        help="wall seconds per simulated second of an ASR job task (smaller is faster)",
    )
    p.add_argument("--pause", type=float, default=5.0, help="seconds between chapters")
    p.add_argument("--keep-running", action="store_true", help="leave everything up after")
    p.add_argument("--no-live", action="store_true", help="plain output instead of a live table")
    p.add_argument("--manifests", type=Path, default=None, help="ProtectedVM manifests to apply")
    p.add_argument("--workdir", type=Path, default=None, help="where kubeconfig and logs go")
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    console = Console()
    live = not args.no_live and console.is_terminal
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="asr-operator-demo-"))
    manifests = args.manifests or _default_manifests()
    docs = [
        d for f in sorted(manifests.glob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d
    ]
    console.print(f"[bold]asr-operator demo[/bold]: simulated datacenter in {workdir}")
    started = time.monotonic()
    with SimulatedDatacenter(
        bundled_scenario(), workdir, time_scale=args.time_scale, poll_interval=1
    ) as dc:
        dc.apply(dc.vault_manifests())
        dc.apply(docs)
        operator = OperatorProcess(dc.kubeconfig, dc.namespace, workdir)
        operator.start()
        try:
            story = Story(dc)
            ok = run_story(story, console, live, args.pause)
            _summary(story, console)
            elapsed = time.monotonic() - started
            verdict = "completed" if ok else "did NOT complete"
            console.print(f"Story {verdict} in {elapsed:.0f}s. Operator log: {operator.log_path}")
            if args.keep_running:
                _wait_for_ctrl_c(console, dc)
        finally:
            operator.stop()
    return 0 if ok else 1


def _wait_for_ctrl_c(console: Console, dc: SimulatedDatacenter) -> None:
    console.print(
        "\nEverything keeps running. Try:\n"
        f"  export KUBECONFIG={dc.kubeconfig}\n"
        "  kubectl get protectedvms -w\n"
        "  kubectl describe protectedvm web01\n"
        '  kubectl patch protectedvm app01 --type merge -p \'{"spec":{"activeSite":"Azure"}}\'\n'
        "Ctrl-C stops everything."
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    console.print("Stopping.")
