"""Planning: forecasts turned into staffing plans, appointment quotas and guidance."""
