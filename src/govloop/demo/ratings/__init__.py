"""Demo data for the ratings domain."""
