"""Benchmarks of the indicators domain."""
