"""The 12345 hotline: work orders, knowledge base, hot topics, dashboard and Open311."""

# This domain answers for its cases when access asks (registers with access).
from govloop.hotline import cases as _cases  # noqa: F401

# A text to the center's number opens an order (registers with notify.inbound).
from govloop.hotline.orders import sms_inbound as _sms_inbound  # noqa: F401
