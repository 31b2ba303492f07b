"""Benchmark: 8 replications of a bundled scenario, serially and on 2 local processes.

Prints both wall times and the speed-up (goal on a 2-core machine: >= 1.6x).

    python bench/bench_study.py [--replications R]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=8)
    parser.add_argument(
        "--scenario", type=Path, default=ROOT / "scenarios" / "china_miit_2027.yaml"
    )
    args = parser.parse_args()
    scenario = sim.load_scenario(args.scenario)
    times = {}
    for jobs in (1, 2):
        started = time.perf_counter()
        sim.run(scenario, replications=args.replications, jobs=jobs)
        times[jobs] = time.perf_counter() - started
        print(f"{scenario.name}, {args.replications} replications, jobs {jobs}: "
              f"{times[jobs]:.2f} s")  # fmt: skip
    print(f"speed-up with 2 processes: {times[1] / times[2]:.2f}x (goal >= 1.6x)")


if __name__ == "__main__":
    main()
