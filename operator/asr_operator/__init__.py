"""asr-operator: declare where each ASR-protected Hyper-V VM runs; the operator gets it there."""

__version__ = "0.1.0"
