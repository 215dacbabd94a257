"""Decisions (措施) and their measured effect: the act step of the loop."""
