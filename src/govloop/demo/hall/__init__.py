"""Demo data for the hall domain."""
