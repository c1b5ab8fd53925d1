"""`python -m iamguard.cli`: the same program as the `iamguard` console script."""

from iamguard.cli import main

raise SystemExit(main())
