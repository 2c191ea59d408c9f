"""Start bqemulator without DuckDB's spatial extension (run with the emulator's own Python).

bqemulator loads DuckDB's ``spatial`` extension at start-up, which DuckDB downloads on first use: offline
it cannot, and the emulator refuses to start. newsbeam's tables have no GEOGRAPHY column, so the launcher
skips that one step and starts the emulator's own CLI unchanged otherwise. Not imported by the project.
"""

import sys

from bqemulator.cli import main
from bqemulator.storage import engine

engine.DuckDBEngine._load_spatial = lambda self: None  # GEOGRAPHY only; nothing here uses it

if __name__ == "__main__":
    sys.exit(main())
