"""Channel adapters: one small interface (``base.Channel``), one adapter per gateway."""
