"""The orchestrator: the process that owns the flow graph and hosts or spawns node libraries."""
