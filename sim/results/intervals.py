"""Replications as one table, and the mean and 95 % interval of every figure over them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.stats import t_quantiles_975

KEYS = {
    "connections": ["date", "region", "category", "technology"],
    "network": ["date", "region", "technology", "carrier"],
    "cells": ["date", "region", "cell_class", "carrier"],
    "access": ["year", "region", "technology", "cell"],
    "experience": ["year", "region", "cell", "category", "technology", "coverage"],
    "targets": ["name", "metric", "date", "bound", "required"],
    "summary": ["metric"],
}
"""The columns that identify a row of each table (the rest are figures)."""


def with_replication(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of several replications as one, with a leading `replication` column."""
    frames = [table.assign(replication=r) for r, table in enumerate(tables)]
    combined = pd.concat(frames, ignore_index=True)
    return combined[["replication", *tables[0].columns]]


def interval_table(name: str, combined: pd.DataFrame) -> pd.DataFrame:
    """Per key: every numeric figure's mean and 95 % Student-t interval over replications.

    Summary values are text; those that are numbers in every replication get intervals.
    """
    keys = KEYS[name]
    table = combined.drop(columns=["replication"])
    if name == "targets":
        table = table.assign(met=table["met"].astype(int))
    if name == "summary":
        table = table.assign(value=pd.to_numeric(table["value"], errors="coerce"))
        numeric = table.groupby("metric", sort=False)["value"].transform(lambda v: v.notna().all())
        table = table[numeric.astype(bool)]
    figures = [
        c for c in table.columns if c not in keys and pd.api.types.is_numeric_dtype(table[c])
    ]
    grouped = table.groupby(keys, sort=False, dropna=False)[figures]
    mean, std, count = grouped.mean(), grouped.std(ddof=1), grouped.count()
    t = pd.DataFrame(t_quantiles_975(count - 1), index=count.index, columns=count.columns)
    half = pd.DataFrame(t * std / np.sqrt(count))
    out = pd.DataFrame(index=mean.index)
    for figure in figures:
        out[f"{figure}_mean"] = mean[figure].round(6)
        out[f"{figure}_ci_low"] = (mean[figure] - half[figure]).round(6)
        out[f"{figure}_ci_high"] = (mean[figure] + half[figure]).round(6)
    out["replications"] = combined["replication"].nunique()
    return out.reset_index()
