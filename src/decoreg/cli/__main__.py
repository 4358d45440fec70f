"""``python -m decoreg.cli ...``: the same as the `decoreg` console script."""

from decoreg.cli import main

raise SystemExit(main())
