"""Hyper-V simulator: WinRM (WS-Management) hosts running asr-operator's scripts.

See docs/hyperv.md for usage; `HyperVSimulator` is the entry point.
"""

from asr_operator.sim.hyperv.server import HyperVSimulator, RecordedCommand

__all__ = ["HyperVSimulator", "RecordedCommand"]
