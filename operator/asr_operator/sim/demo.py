"""`asr-operator demo`: the operator on the simulated datacenter, walking a failover story.

Everything runs on 127.0.0.1: the Kubernetes API stand-in, the ASR simulator (HTTPS), the
Hyper-V simulator (WinRM) and the operator itself as a child process. The story is driven
the way an on-call engineer would drive it: by changing the ProtectedVMs' and the
RecoveryPlan's spec (as `kubectl patch` or a Git commit would) and approving gates with
the token in status. ProtectedVMs are applied at the start; the RecoveryPlan is applied
by its chapter, since the VMs of a managed plan no longer act through their ProtectedVMs.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
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

PVMS = "protectedvms"
PLANS = "recoveryplans"
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
    # What the chapter left, in one line (printed after it in plain output).
    shows: Callable[[Story], str] | None = None


class Story:
    def __init__(self, dc: SimulatedDatacenter, plans: Sequence[dict[str, Any]] = ()) -> None:
        self.dc = dc
        self.client = dc.api_client()
        self.custom = kubernetes.client.CustomObjectsApi(self.client)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.namespace = dc.namespace
        # RecoveryPlan manifests, applied by their chapter rather than at the start.
        self.plans = {p["metadata"]["name"]: p for p in plans}

    # -- reading ------------------------------------------------------------------------

    def objects(self, plural: str = PVMS) -> list[dict[str, Any]]:
        out: Any = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)
        return sorted(out.get("items", []), key=lambda o: o["metadata"]["name"])

    def status(self, name: str, plural: str = PVMS) -> Status:
        obj: Any = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name
        )
        return dict(obj.get("status") or {})

    def condition(self, name: str, type_: str, plural: str = PVMS) -> dict[str, Any]:
        conditions = self.status(name, plural).get("conditions", [])
        return next((c for c in conditions if c["type"] == type_), {})

    def ready(self, name: str, plural: str = PVMS) -> bool:
        return self.condition(name, "Ready", plural).get("status") == "True"

    def stalled(self, name: str, reason: str, plural: str = PVMS) -> bool:
        c = self.condition(name, "Stalled", plural)
        return c.get("status") == "True" and c.get("reason") == reason

    def gate(self, name: str, action: str, plural: str = PVMS) -> bool:
        gate = self.status(name, plural).get("awaitingApproval") or {}
        return gate.get("action") == action

    def did(self, name: str, op: str, plural: str = PVMS) -> bool:
        return any(
            h["type"] == op and h["result"] == "Succeeded"
            for h in self.status(name, plural).get("history", [])
        )

    def vm_result(self, plan: str, vm: str) -> str:
        """A VM's part in the plan's current (or last) job, as status.vms reports it."""
        vms = self.status(plan, PLANS).get("vms", [])
        return next((v.get("result", "") for v in vms if v["name"] == vm), "")

    def plan_line(self, name: str) -> str:
        """The plan in one line: phase, the job's step or the gate, its groups or VMs."""
        st = self.status(name, PLANS)
        gate = (st.get("awaitingApproval") or {}).get("action")
        doing = st.get("progress") or (f"awaiting approval: {gate}." if gate else "")
        if any(g.get("state") for g in st.get("groups", [])):
            where = "Groups: " + _groups(st, marks=False)
        else:  # no plan job yet: say where the VMs are
            where = "VMs: " + ", ".join(f"{v['name']} {v.get('state', '')}" for v in st["vms"])
        return f"{name} {st.get('phase', '')}: {doing} {where}".replace("  ", " ")

    def pvm_line(self, names: Sequence[str]) -> str:
        """ProtectedVMs in one line: phase and Stalled reason."""
        out = []
        for name in names:
            reason = self.condition(name, "Stalled").get("reason", "")
            phase = self.status(name).get("phase", "")
            out.append(f"{name} {phase}" + (f" ({reason})" if phase == "Stalled" else ""))
        return "ProtectedVMs: " + ", ".join(out)

    def last_events(self) -> dict[str, str]:
        events = self.core.list_namespaced_event(self.namespace).items
        events.sort(key=lambda e: (e.metadata.creation_timestamp or 0, e.metadata.name))
        return {
            str(e.involved_object.name): f"{e.reason}: {e.message}"
            for e in events
            if e.involved_object is not None
        }

    # -- acting -------------------------------------------------------------------------

    def patch(self, name: str, spec: dict[str, Any], plural: str = PVMS) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, name, {"spec": spec}
        )

    def patch_each(self, names: Sequence[str], spec: dict[str, Any]) -> None:
        for name in names:
            self.patch(name, spec)

    def approve(self, name: str, plural: str = PVMS) -> None:
        token = (self.status(name, plural).get("awaitingApproval") or {}).get("token", "")
        self.patch(name, {"approve": token}, plural)

    def apply_plan(self, name: str, spec: dict[str, Any]) -> None:
        """Create the RecoveryPlan from its manifest, with `spec` changed (a Git commit)."""
        plan = self.plans[name]
        body = {**plan, "spec": {**plan["spec"], **spec}}
        self.dc.apply([body])

    def remove_checkpoints(self, host: str, vm: str) -> None:
        """What an admin does on the host: Remove-VMSnapshot, simulated."""
        state = self.dc.datacenter.vm_on_host(host, vm)
        assert state is not None
        with self.dc.datacenter.lock:
            state.checkpoints.clear()


def chapters() -> list[Chapter]:
    return [
        Chapter(
            "DR drill: test failover of app01 into an isolated network, cleaned up after 1m",
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
        Chapter(
            "db01 back on-premises: failback, commit and reverse replication run by themselves",
            lambda s: s.patch("db01", {"activeSite": "OnPremises"}),
            lambda s: s.did("db01", "ReverseReplication") and s.ready("db01"),
        ),
        Chapter(
            "Recovery plan plan-web to Azure: db01, then app01; the job stops at the manual "
            "action before web01",
            lambda s: s.apply_plan("plan-web", {"activeSite": "Azure"}),
            lambda s: (
                s.gate("plan-web", "ManualAction", PLANS)
                and s.vm_result("plan-web", "app01") == "Succeeded"
                and s.vm_result("plan-web", "web01") != "Succeeded"
            ),
            shows=lambda s: s.plan_line("plan-web"),
        ),
        Chapter(
            "DNS cut over: approve the manual action; the job resumes and web01 boots in Azure",
            lambda s: s.approve("plan-web", PLANS),
            lambda s: (
                s.gate("plan-web", "Commit", PLANS)
                and s.vm_result("plan-web", "web01") == "Succeeded"
            ),
            shows=lambda s: s.plan_line("plan-web"),
        ),
        Chapter(
            "plan-web validated in Azure: approve the commit of the whole plan",
            lambda s: s.approve("plan-web", PLANS),
            lambda s: (
                s.did("plan-web", "Commit", PLANS)
                and s.ready("plan-web", PLANS)
                and all(s.stalled(vm, "OwnedByRecoveryPlan") for vm in PLAN_WEB_VMS)
            ),
            shows=lambda s: s.plan_line("plan-web") + " | " + s.pvm_line(PLAN_WEB_VMS),
        ),
        Chapter(
            "The ProtectedVMs of the plan's VMs (OwnedByRecoveryPlan) are set to Azure too: "
            "they defer to the plan and are Ready",
            lambda s: s.patch_each(PLAN_WEB_VMS, {"activeSite": "Azure"}),
            lambda s: all(s.ready(vm) for vm in PLAN_WEB_VMS),
            shows=lambda s: s.pvm_line(PLAN_WEB_VMS),
        ),
    ]


PLAN_WEB_VMS = ("db01", "app01", "web01")
GROUP_MARK = {
    "Succeeded": "✓",
    "InProgress": "…",
    "Suspended": "‖",
    "Failed": "✗",
    "Cancelled": "✗",
}


def _groups(status: Status, marks: bool = True) -> str:
    """A plan's groups: VMs done of VMs acted on, and the group's state."""
    out = []
    for g in status.get("groups", []):
        state = g.get("state", "")
        shown = GROUP_MARK.get(state, "") if marks else state
        out.append(f"{g['name']} {g.get('vmsDone', 0)}/{g.get('vmsTotal', 0)} {shown}".strip())
    return ", ".join(out)


def _table(story: Story, progress: list[tuple[str, str]]) -> Group:
    table = Table(title="ProtectedVMs (namespace demo)", expand=True)
    for col in ("NAME", "DESIRED", "ACTIVE", "PHASE", "READY", "JOB", "RPO", "LAST EVENT"):
        table.add_column(col, overflow="fold")
    events = story.last_events()
    for obj in story.objects():
        name = obj["metadata"]["name"]
        st = obj.get("status") or {}
        rpo = (st.get("asr") or {}).get("rpoSeconds")
        table.add_row(
            name,
            obj["spec"].get("activeSite", ""),
            st.get("activeSite", ""),
            st.get("phase", ""),
            _ready(st),
            st.get("job", ""),
            f"{rpo}s" if rpo is not None else "",
            events.get(name, ""),  # whole: an approval's token is at its end
        )
    shown: list[Table | Text] = [table]
    plans = story.objects(PLANS)
    if plans:
        shown.append(_plan_table(plans))
    shown += [Text(f"{mark} {title}") for mark, title in progress]
    return Group(*shown)


def _plan_table(plans: list[dict[str, Any]]) -> Table:
    table = Table(title="RecoveryPlans", expand=True)
    for col in ("NAME", "DESIRED", "ACTIVE", "PHASE", "READY", "JOB", "PROGRESS", "GROUPS"):
        table.add_column(col, overflow="fold")
    for obj in plans:
        st = obj.get("status") or {}
        gate = (st.get("awaitingApproval") or {}).get("action")
        table.add_row(
            obj["metadata"]["name"],
            obj["spec"].get("activeSite", ""),
            st.get("activeSite") or ("(mixed)" if st.get("vms") else ""),
            st.get("phase", ""),
            _ready(st),
            st.get("job", ""),
            st.get("progress") or (f"approve {gate}" if gate else ""),
            _groups(st),
        )
    return table


def _ready(status: Status) -> str:
    return next((c["status"] for c in status.get("conditions", []) if c["type"] == "Ready"), "")


def _summary(story: Story, console: Console) -> None:
    table = Table(title="Operations and their measured durations")
    for col in ("OBJECT", "OPERATION", "RESULT", "DURATION", "RECOVERY POINT"):
        # Names and operations are read (and checked) whole; a long recovery point is cut.
        table.add_column(col, overflow="ellipsis" if col == "RECOVERY POINT" else "fold")
    for obj in [*story.objects(), *story.objects(PLANS)]:
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
    steps = _Steps()

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
                else:
                    steps.show(story, console)
                time.sleep(0.25)
            if not ok:
                break
            progress[-1] = ("✓", chapter.title)
            if not live:
                steps.show(story, console)  # the state the chapter ended in, always
            if chapter.shows is not None and not live:
                console.print(f"  {chapter.shows(story)}")
            if live:
                view.update(render())
            time.sleep(pause)
    return ok


class _Steps:
    """Without a terminal: one line each time an object's phase, job or last Event changes,
    so a piped or logged demo shows every step, not only the chapter titles."""

    def __init__(self) -> None:
        self.said: dict[str, str] = {}

    def show(self, story: Story, console: Console) -> None:
        events = story.last_events()
        for plural in (PVMS, PLANS):
            for obj in story.objects(plural):
                name = obj["metadata"]["name"]
                st = obj.get("status") or {}
                parts = [st.get("phase") or "Pending", st.get("job") or "", events.get(name, "")]
                line = " · ".join(p for p in parts if p)
                if self.said.get(name) != line:
                    self.said[name] = line
                    console.print(f"  · {name}: {line}", soft_wrap=True, highlight=False)


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
        default=1.25,
        help="wall seconds per simulated second of an ASR job task (smaller is faster)",
    )
    p.add_argument("--pause", type=float, default=3.0, help="seconds between chapters")
    p.add_argument("--keep-running", action="store_true", help="leave everything up after")
    p.add_argument("--no-live", action="store_true", help="plain output instead of a live table")
    p.add_argument(
        "--manifests",
        type=Path,
        default=None,
        help="manifests to apply: ProtectedVMs at the start, RecoveryPlans by their chapter",
    )
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
    plans = [d for d in docs if d.get("kind") == "RecoveryPlan"]
    console.print(f"[bold]asr-operator demo[/bold]: simulated datacenter in {workdir}")
    started = time.monotonic()
    with SimulatedDatacenter(
        bundled_scenario(), workdir, time_scale=args.time_scale, poll_interval=1
    ) as dc:
        meanwhile = f"  export KUBECONFIG={dc.kubeconfig}   # kubectl and asr-operator, meanwhile"
        console.print(meanwhile, highlight=False, soft_wrap=True)
        console.print(f"  {_cli_hint()}", highlight=False, soft_wrap=True)
        dc.apply(dc.vault_manifests())
        dc.apply([d for d in docs if d.get("kind") != "RecoveryPlan"])
        operator = OperatorProcess(dc.kubeconfig, dc.namespace, workdir)
        operator.start()
        try:
            story = Story(dc, plans)
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


def _cli_hint() -> str:
    """How to reach `asr-operator` from another shell (make demo runs it from a venv)."""
    here = Path(sys.executable).parent / "asr-operator"
    found = shutil.which("asr-operator")
    if found and Path(found).resolve() == here.resolve():
        return "asr-operator is on PATH: try `asr-operator status -n demo`"
    return (
        f"asr-operator is {here} (not on PATH): `source {here.parent}/activate`, "
        "then `asr-operator status -n demo`"
    )


def _wait_for_ctrl_c(console: Console, dc: SimulatedDatacenter) -> None:
    console.print(
        "\nEverything keeps running. Try:\n"
        f"  export KUBECONFIG={dc.kubeconfig}\n"
        "  kubectl get protectedvms,recoveryplans -w\n"
        "  kubectl describe protectedvm web01\n"
        "  kubectl get recoveryplan plan-web -o jsonpath='{.status.groups}'\n"
        '  kubectl patch protectedvm app01 --type merge -p \'{"spec":{"activeSite":"Azure"}}\'\n'
        "Ctrl-C stops everything."
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    console.print("Stopping.")
