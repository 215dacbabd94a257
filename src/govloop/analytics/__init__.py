"""The analytics store: Parquet partitions per source, hall and month, filled from the
domains' event feeds and read by DuckDB (and Spark at scale)."""
