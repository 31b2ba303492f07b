"""Benchmark: a sweep's memory does not grow with its variants.

Runs a sweep of N small variants (the minimal scenario, one water-meter category, at a
resolution of 10,000 terminals per cohort, its growth rate swept over N values) with 3
replications each on 2 processes, for N = 50 and N = 200, each sweep in a fresh process,
and prints per N the wall time and the peak resident memory (`ru_maxrss`) of the sweep's
own process (which gathers the replications, writes the folders, the Parquet dataset and
sweep.csv) and of its largest worker.  Goal: the peaks at 200 variants within 10 % of
those at 50 (flat: nothing is kept per variant).

    python bench/bench_sweep_memory.py [--variants 50 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = {
    "name": "bench-sweep",
    "resolution": 10_000,
    "categories": {"water_meter": {"preset": "water_meter", "initial": 1_000_000}},
}


def sweep(variants: int, jobs: int, out: Path) -> dict[str, float]:
    """Run one sweep in this process; its wall time and peak memory (MiB)."""
    from sim import parse_scenario
    from sim.study.sweeps import parse_override, run_sweep
    from sim.study.sweeps import variants as variants_of

    rates = ",".join(f"{0.05 + 0.3 * i / variants:.6f}" for i in range(variants))
    variant_list = variants_of(
        parse_scenario(SCENARIO), [parse_override(f"categories.water_meter.growth.rate={rates}")]
    )
    started = time.perf_counter()
    report = run_sweep(variant_list, out, seed=1, replications=3, jobs=jobs)
    wall = time.perf_counter() - started
    if report.failed:
        raise SystemExit(f"variants failed: {report.failed}")
    # ru_maxrss is in KiB on Linux
    return {
        "wall_s": wall,
        "main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "dataset_files": len(list((out / "dataset").rglob("*.parquet"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(sweep(args.child, args.jobs, args.out)))
        return
    figures = {}
    for count in args.variants:
        with tempfile.TemporaryDirectory() as scratch:
            command = [sys.executable, __file__, "--child", str(count), "--jobs", str(args.jobs),
                       "--out", str(Path(scratch) / "sweep")]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            figures[count] = json.loads(done.stdout.strip().splitlines()[-1])
        f = figures[count]
        print(f"{count:4d} variants x 3 replications, {args.jobs} processes: "
              f"{f['wall_s']:7.1f} s; peak sweep process {f['main_mib']:6.0f} MiB, largest "
              f"worker {f['worker_mib']:6.0f} MiB; "
              f"{f['dataset_files']:.0f} Parquet files")  # fmt: skip
    low, high = min(figures), max(figures)
    growth = figures[high]["main_mib"] / figures[low]["main_mib"]
    worker = figures[high]["worker_mib"] / figures[low]["worker_mib"]
    print(f"peak at {high} / at {low} variants: sweep process {growth:.2f}x, largest worker "
          f"{worker:.2f}x (goal <= 1.10x)")  # fmt: skip


if __name__ == "__main__":
    main()
