"""The results layer: tidy tables of a run, replications and their intervals, the result
folder (written atomically) and reading it back."""

from sim.results.files import atomic_file, csv_bytes, write_csv, write_text
from sim.results.intervals import KEYS, interval_table, with_replication
from sim.results.reading import Tables, read_tables
from sim.results.result import RESULT_FILES, Result, manifest, write_result_folder
from sim.results.tables import (
    ACCESS_FAILURE_THRESHOLD,
    CONNECTIONS_COLUMNS,
    NETWORK_COLUMNS,
    TARGET_COLUMNS,
    connections_table,
    network_table,
    summary_table,
    targets_table,
)

__all__ = [
    "ACCESS_FAILURE_THRESHOLD",
    "CONNECTIONS_COLUMNS",
    "KEYS",
    "NETWORK_COLUMNS",
    "RESULT_FILES",
    "TARGET_COLUMNS",
    "Result",
    "Tables",
    "atomic_file",
    "connections_table",
    "csv_bytes",
    "interval_table",
    "manifest",
    "network_table",
    "read_tables",
    "summary_table",
    "targets_table",
    "with_replication",
    "write_csv",
    "write_result_folder",
    "write_text",
]
