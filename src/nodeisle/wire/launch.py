"""The launch handshake between the orchestrator and a worker process it starts.

The worker first makes itself non-dumpable, then writes :data:`SEALED` as one line on stdout; only
then does the orchestrator write the launch JSON (credential, config, secrets) as one line on its
stdin (nodeisle.worker.guard, nodeisle.orchestrator.launch).
"""

SEALED = "nodeisle-worker: sealed"
