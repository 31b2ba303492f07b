"""`python -m sim` is the `iotsim` command."""

from sim.cli import main

raise SystemExit(main())
