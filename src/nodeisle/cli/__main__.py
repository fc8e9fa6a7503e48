"""``python -m nodeisle.cli``."""

from nodeisle.cli.main import main

raise SystemExit(main())
