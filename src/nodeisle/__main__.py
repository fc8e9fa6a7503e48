"""``python -m nodeisle``: the command line."""

from nodeisle.cli.main import main

raise SystemExit(main())
