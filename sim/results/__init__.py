"""The results layer: tidy tables of a run, replications and their intervals, the result
folder (written atomically, one writer at a time, never replacing a folder iotsim did not
write) and reading it back."""

from sim.results.files import csv_bytes, write_csv, write_text
from sim.results.folders import (
    RESULT_FOLDER,
    SWEEP_FOLDER,
    FolderBusyError,
    FolderKind,
    OutputError,
    atomic_file,
    check_file_target,
    check_replaceable,
    checksum,
    claim,
    figures_folder,
    is_kind,
    staged_folder,
    take_written,
    write_marker,
)
from sim.results.intervals import KEYS, interval_table, with_replication
from sim.results.reading import ResultFolderError, Tables, read_tables, verified
from sim.results.result import RESULT_FILES, Result, manifest, result_files, write_result_folder
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
    "RESULT_FOLDER",
    "SWEEP_FOLDER",
    "TARGET_COLUMNS",
    "FolderBusyError",
    "FolderKind",
    "OutputError",
    "Result",
    "ResultFolderError",
    "Tables",
    "atomic_file",
    "check_file_target",
    "check_replaceable",
    "checksum",
    "claim",
    "connections_table",
    "csv_bytes",
    "figures_folder",
    "interval_table",
    "is_kind",
    "manifest",
    "network_table",
    "read_tables",
    "result_files",
    "staged_folder",
    "summary_table",
    "take_written",
    "targets_table",
    "verified",
    "with_replication",
    "write_csv",
    "write_marker",
    "write_result_folder",
    "write_text",
]
