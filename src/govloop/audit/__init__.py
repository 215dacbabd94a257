"""The tamper-evident audit log: a hash chain of entries, signed checkpoints and their
keys, and anchoring outside the database. Every domain writes to it; it depends on none."""
