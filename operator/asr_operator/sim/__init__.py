"""The simulated datacenter: wire-level stand-ins for ASR, Hyper-V and a Kubernetes API.

Nothing here imports from azure/, hyperv/, lifecycle/ or controllers/: the simulators
speak only the wire protocols, so a client misunderstanding cannot hide in shared code.
"""
