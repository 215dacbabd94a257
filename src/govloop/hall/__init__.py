"""The service hall: queues, windows, tickets, appointments and the day's close."""

# This domain answers for its cases when access asks (registers with access).
from govloop.hall import cases as _cases  # noqa: F401
