"""Purpose-bound access to case data: grants, break-glass, policy, activity and alerts."""

# Cases and grants follow subject masters that are split or merged (registers with subjects).
from govloop.access import references as _references  # noqa: F401
