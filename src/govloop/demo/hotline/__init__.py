"""Demo data for the hotline domain."""
