"""sim/kube."""
