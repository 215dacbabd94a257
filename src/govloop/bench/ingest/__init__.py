"""Benchmarks of the ingest domain."""
