"""The typed wire between the orchestrator and a worker: one frozen dataclass per message (messages),
registered by wire name with every dataclass that may cross the bus. Standard library only."""
