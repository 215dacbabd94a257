"""The hall's devices: registry, keys, heartbeats and uptime, MQTT traffic."""
