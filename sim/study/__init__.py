"""The study layer: replications, sweeps, the executors that run them, and comparisons of
result folders."""
