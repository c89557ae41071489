"""Microbenchmark harness: backends, sweeps, fits, profiles."""

__all__: list[str] = []
