"""Entry point: ``<venv>/bin/python -I -u -m nodeisle.worker`` with a JSON launch config on stdin.

The process started is the guard (nodeisle.worker.guard); the runtime runs in its child and is
imported only there, so the guard stays small.
"""

from nodeisle.worker import guard


def _run_worker(line: str, guard_pid: int | None) -> int:
    from nodeisle.worker.runtime import main

    return main(line, guard_pid)


if __name__ == "__main__":
    raise SystemExit(guard.main(_run_worker))
