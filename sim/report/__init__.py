"""The report layer: figures of result folders (matplotlib, the optional extra `plot`) and a
self-contained HTML report.  Import `sim.report.plots` only where matplotlib is installed."""
