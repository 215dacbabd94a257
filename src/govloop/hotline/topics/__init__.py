"""Hot topics (热点): clusters of similar work orders found each day, and their alerts."""
