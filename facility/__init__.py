"""Facility: hardware catalogue, topology, placement, budgets, failure domains."""

__all__: list[str] = []
