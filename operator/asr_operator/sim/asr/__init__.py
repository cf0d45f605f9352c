"""Simulated Azure Site Recovery ARM endpoints (Hyper-V to Azure) over HTTPS."""

from asr_operator.sim.asr.faults import FaultRule, JobFailure
from asr_operator.sim.asr.server import AsrSimulator, AsrSimulatorThread
from asr_operator.sim.asr.throttle import BucketSpec, ThrottleLimits

__all__ = [
    "AsrSimulator",
    "AsrSimulatorThread",
    "BucketSpec",
    "FaultRule",
    "JobFailure",
    "ThrottleLimits",
]
