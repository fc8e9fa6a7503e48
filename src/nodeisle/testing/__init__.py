"""Wiring for tests: the orchestrator with its workers' runtimes in one process (inprocess)."""
