"""Reading a result folder back into tables (for compare, figures and reports)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.results.result import Result

_TEXT = dict.fromkeys(("date", "region", "category", "technology", "cell", "name", "value"), str)


@dataclass
class Tables:
    """The tables of a result folder (or of a Result), as figures and reports use them."""

    name: str
    start: str
    manifest: dict[str, Any]
    connections: pd.DataFrame
    network: pd.DataFrame
    access: pd.DataFrame
    targets: pd.DataFrame
    summary: pd.DataFrame
    path: Path | None = None

    @classmethod
    def of(cls, result: Result) -> Tables:
        return cls(result.scenario.name, result.scenario.start,
                   {"resolved_scenario": result.scenario.model_dump(mode="json"),
                    "seed": result.seed, "replications": result.replications},
                   result.connections, result.network, result.access, result.targets,
                   result.summary)  # fmt: skip


def read_tables(path: str | Path) -> Tables:
    """Read a result folder written by `write_result_folder`."""
    path = Path(path)
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not a result folder (no manifest.json)") from None

    def table(name: str) -> pd.DataFrame:
        file = path / name
        if not file.exists():
            return pd.DataFrame()
        return pd.read_csv(file, dtype=_TEXT, keep_default_na=False, na_values=[""])

    summary = table("summary.csv")
    summary["value"] = summary["value"].fillna("") if "value" in summary else summary.get("value")
    scenario = manifest.get("resolved_scenario", {})
    return Tables(
        name=str(manifest.get("scenario_name") or path.name),
        start=str(scenario.get("start", "")),
        manifest=manifest,
        connections=table("connections.csv"),
        network=table("network.csv"),
        access=table("access.csv"),
        targets=table("targets.csv"),
        summary=summary,
        path=path,
    )
