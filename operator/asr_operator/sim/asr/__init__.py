"""sim/asr."""
