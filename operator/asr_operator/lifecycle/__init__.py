"""The pure state machine: (spec, status, observations, now) -> next step. No I/O."""
