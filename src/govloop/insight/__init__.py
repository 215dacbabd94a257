"""Analysis: demand, forecasting, staffing, simulation, anomalies, recommendations."""
