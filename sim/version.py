"""The version of iotsim."""

__version__ = "0.1.0"
