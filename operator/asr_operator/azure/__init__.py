"""ASR gateway over the async Azure SDK: start an action, get its job name, poll jobs."""
