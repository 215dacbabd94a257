"""The 12345 hotline: work orders, knowledge base, hot topics, dashboard and Open311."""

# This domain answers for its cases when access asks (registers with access).
from govloop.hotline import cases as _cases  # noqa: F401
