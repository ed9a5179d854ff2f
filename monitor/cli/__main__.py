"""``python -m monitor.cli``: the ``netmon`` command."""

from monitor.cli.main import main

raise SystemExit(main())
