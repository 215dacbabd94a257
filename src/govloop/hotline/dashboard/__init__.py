"""The hotline dashboard: volumes, time limits and satisfaction per channel and department."""
