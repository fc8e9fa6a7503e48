"""Flows: the authoritative graph (graph), scheduling a run (runner), and workflow files (workflow)."""
