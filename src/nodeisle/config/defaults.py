"""Defaults the worker runtime needs as well as the orchestrator. Standard library only: shipped to workers.

Every other default is written once, in the setting table (:mod:`nodeisle.config.table`), which
reads these from here; the worker, which never imports the table, reads them here too.
"""

from __future__ import annotations

#: Seconds each node class may take to construct during the schema probe (the ``probe_timeout`` setting).
PROBE_TIMEOUT = 10.0
