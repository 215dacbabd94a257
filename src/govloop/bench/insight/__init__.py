"""Benchmarks of the insight domain."""
