"""sim/hyperv."""
