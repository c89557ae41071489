"""Worksheet templates that lpuplan's exporters fill (package data)."""
