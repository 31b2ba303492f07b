"""The `iotsim` command line.

This module stays light (`import sim.cli` loads no numpy or pandas): `main` imports the
commands, which load the simulator, under its interrupt handling, so Ctrl-C at any moment,
from loading Python modules to writing, ends with one line and exit code 130, and every
output is written whole or not at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_INTERRUPTED = 0, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `iotsim` console script."""
    try:
        from sim.cli import commands

        return commands.dispatch(argv)
    except KeyboardInterrupt:
        print(_interrupted(), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _interrupted() -> str:
    """What to say after Ctrl-C: what was put in place before it, if anything."""
    folders = sys.modules.get("sim.results.folders")  # not loaded: nothing was written
    written = folders.take_written() if folders is not None else []
    if not written:
        return "interrupted: nothing was changed"
    done = ", ".join(str(path) for path in written)
    return f"interrupted: {done} had been written in full; nothing else was changed"
