"""Retention: old events move from the transactional tables to Parquet archives."""
