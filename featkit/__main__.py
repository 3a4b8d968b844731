"""``python -m featkit`` runs the command line."""

from featkit.cli import main

raise SystemExit(main())
