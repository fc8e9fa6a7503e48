"""Entry point: ``<venv>/bin/python -I -m nodeisle.worker`` with a JSON launch config on stdin."""

from nodeisle.worker.runtime import main

if __name__ == "__main__":
    raise SystemExit(main())
