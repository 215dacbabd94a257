"""Benchmark harnesses behind `govloop bench …` (each prints JSON).

No domain imports this package."""
