"""Defaults that code outside the setting table needs too: the worker runtime (which never imports the
table) and the pure supervision core. Standard library only: shipped to workers.

Every other default is written once, in the setting table (:mod:`nodeisle.config.table`), which
reads these from here.
"""

from __future__ import annotations

#: Seconds each node class may take to construct during the schema probe (the ``probe_timeout`` setting).
PROBE_TIMEOUT = 10.0

#: Worker supervision (the ``heartbeat_*`` and ``crash_*`` settings; nodeisle.orchestrator.supervision).
HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TIMEOUT = 15.0
CRASH_LIMIT = 3
CRASH_WINDOW = 60.0
#: Seconds a worker has to start, import its library and send its schema (``worker_start_timeout``).
WORKER_START_TIMEOUT = 120.0
