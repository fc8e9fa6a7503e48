"""The ``nodeisle`` command line (main) and how a run is shown (output)."""

from nodeisle.cli.main import main

__all__ = ["main"]
