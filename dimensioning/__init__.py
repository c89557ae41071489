"""Dimensioning: traffic, shape buckets, queueing models, sizing, admission.

Imports neither ``facility`` nor ``benchmarks`` (DESIGN.md).
"""

__all__: list[str] = []
