"""办件: a matter's life after the window (review, decision, certificate, pickup or post),
its time limits in working days, delivery by courier, and what the citizen is told."""

from govloop.matters import cases, ingest_models, sms_query  # noqa: F401  (registrations)
