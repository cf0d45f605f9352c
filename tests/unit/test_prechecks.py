"""Table tests: each VM shape fails exactly the Azure requirements it breaks."""

from __future__ import annotations

import pytest

from asr_operator.lifecycle.observed import HyperVDisk, HyperVVM, PowerState
from asr_operator.lifecycle.prechecks import azure_vm_name_problems, check_vm, evaluate


def os_disk(size: float = 127, fmt: str = "VHDX", path: str = "C:\\vm\\os.vhdx") -> HyperVDisk:
    return HyperVDisk(path=path, format=fmt, size_gb=size, is_os=True)


def data_disk(i: int, size: float = 100, fmt: str = "VHDX", shared: bool = False) -> HyperVDisk:
    return HyperVDisk(
        path=f"C:\\vm\\data{i}.vhdx", format=fmt, size_gb=size, is_os=False, shared=shared
    )


def vm(**kw: object) -> HyperVVM:
    base: dict[str, object] = {
        "name": "WEB01",
        "vm_id": "b07c9911-5777-474f-a6db-ab0cfa841dd3",
        "state": PowerState.RUNNING,
        "generation": 2,
        "disks": (os_disk(),),
        "host": "hv-01",
        "guest_os": "Windows Server 2022 Datacenter",
    }
    base.update(kw)
    return HyperVVM(**base)  # type: ignore[arg-type]


CASES: list[tuple[str, HyperVVM, list[str], list[str]]] = [
    ("healthy gen2", vm(), [], []),
    ("healthy gen1 big os", vm(generation=1, disks=(os_disk(2048),)), [], []),
    (
        "checkpoints",
        vm(checkpoints=("before-patch", "weekly")),
        ["NoCheckpoints"],
        ["'WEB01'", "hv-01", "2 checkpoint", "'before-patch'", "Remove-VMSnapshot"],
    ),
    (
        "gen2 os disk too big",
        vm(disks=(os_disk(301),)),
        ["OsDiskSize"],
        ["301 GB", "300 GB", "generation 2"],
    ),
    ("gen2 os disk at limit", vm(disks=(os_disk(300),)), [], []),
    (
        "gen1 os disk too big",
        vm(generation=1, disks=(os_disk(2049),)),
        ["OsDiskSize"],
        ["2,049 GB", "2,048 GB", "generation 1"],
    ),
    ("no os disk", vm(disks=(data_disk(1),)), ["OsDiskCount"], ["0 OS disks", "exactly one"]),
    (
        "two os disks",
        vm(disks=(os_disk(), os_disk(path="C:\\vm\\os2.vhdx"))),
        ["OsDiskCount"],
        ["2 OS disks", "os2.vhdx"],
    ),
    (
        "17 data disks",
        vm(disks=(os_disk(), *(data_disk(i) for i in range(17)))),
        ["DataDiskCount"],
        ["17 data disks", "at most 16"],
    ),
    ("16 data disks", vm(disks=(os_disk(), *(data_disk(i) for i in range(16)))), [], []),
    (
        "data disk too big",
        vm(disks=(os_disk(), data_disk(1, size=4096))),
        ["DataDiskSize"],
        ["data1.vhdx", "4,096 GB", "4,095 GB"],
    ),
    ("data disk at limit", vm(disks=(os_disk(), data_disk(1, size=4095))), [], []),
    (
        "shared vhd",
        vm(disks=(os_disk(), data_disk(1, shared=True))),
        ["SharedDisk"],
        ["data1.vhdx", "shared"],
    ),
    ("vhd accepted", vm(disks=(os_disk(fmt="VHD"), data_disk(1, fmt="VHD"))), [], []),
    (
        "pass-through disk",
        vm(disks=(os_disk(), HyperVDisk("", "", 0, False))),
        ["DiskFormat"],
        ["pass-through"],
    ),
    (
        "gen2 linux",
        vm(guest_os="Ubuntu 22.04.4 LTS"),
        ["Generation"],
        ["'Ubuntu 22.04.4 LTS'", "generation 1"],
    ),
    ("gen1 linux", vm(generation=1, guest_os="Ubuntu 22.04.4 LTS"), [], []),
    ("gen2 unknown guest", vm(guest_os=""), [], []),
    (
        "everything wrong",
        vm(
            checkpoints=("c1",),
            guest_os="CentOS Linux 7",
            disks=(os_disk(500), *(data_disk(i, size=5000) for i in range(17))),
        ),
        ["NoCheckpoints", "Generation", "OsDiskSize", "DataDiskCount", "DataDiskSize"],
        [],
    ),
]


@pytest.mark.parametrize(("label", "the_vm", "codes", "words"), CASES, ids=[c[0] for c in CASES])
def test_check_vm(label: str, the_vm: HyperVVM, codes: list[str], words: list[str]) -> None:
    failures = check_vm(the_vm)
    assert [f.requirement for f in failures] == codes
    text = " ".join(f.message for f in failures)
    for word in words:
        assert word in text
    for f in failures:
        assert "WEB01" in f.message


@pytest.mark.parametrize(
    "name",
    ["a", "web-01", "WEB01", "9", "a" * 63, "x-y-z-1"],
)
def test_good_azure_names(name: str) -> None:
    assert azure_vm_name_problems(name) == []


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("", ["empty"]),
        ("a" * 64, ["64 characters", "at most 63"]),
        ("web_01", ["'_'", "letters, digits and hyphens"]),
        ("web.01", ["'.'"]),
        ("-web", ["start with a letter or digit"]),
        ("web-", ["end with a letter or digit"]),
        ("wéb", ["'é'"]),
        ("é", ["start", "end"]),
        ("web 01", ["' '"]),
    ],
)
def test_bad_azure_names(name: str, fragments: list[str]) -> None:
    problems = azure_vm_name_problems(name)
    assert problems
    text = " ".join(problems)
    for fragment in fragments:
        assert fragment in text


RULES = [
    "NoCheckpoints",
    "Generation",
    "OsDiskCount",
    "OsDiskSize",
    "DataDiskCount",
    "DataDiskSize",
    "SharedDisk",
    "DiskFormat",
]


def test_every_rule_is_reported_with_what_was_seen() -> None:
    """Status shows every rule, passed or not, so one describe answers "will it fail over"."""
    good = evaluate(vm(disks=(os_disk(127), data_disk(1, size=500))))
    assert [c.requirement for c in good] == RULES
    assert all(c.passed and c.seen and c.limit for c in good)
    seen = {c.requirement: c.seen for c in good}
    assert seen["DataDiskSize"] == "largest 500 GB"
    assert seen["NoCheckpoints"] == "0 checkpoint(s)"

    bad = {c.requirement: c for c in evaluate(vm(checkpoints=("before-patch",)))}
    assert not bad["NoCheckpoints"].passed
    assert "'before-patch'" in bad["NoCheckpoints"].seen
    assert [c.requirement for c in evaluate(vm()) if not c.passed] == [
        c.requirement for c in check_vm(vm())
    ]
