"""The people-facing verbs of `asr-operator` (status, approve, failover, failback, drill,
points): thin spec patches and status readings over the Kubernetes API, no operator logic."""
