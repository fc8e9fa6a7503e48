"""The node runtime both roles share: the node model, per-task scope, requests from node code, hosting
(import, schema probe, hydration, execution) and the construction audit. Standard library only."""
