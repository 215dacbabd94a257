"""Open311 GeoReport v2: the server, the client CLI and the conformance check."""
