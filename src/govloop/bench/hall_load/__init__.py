"""The load generator of `govloop bench hall`: its own process, pinned apart from the server."""
