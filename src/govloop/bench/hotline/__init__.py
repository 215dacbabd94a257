"""Benchmarks of the hotline domain."""
