"""Notifications to citizens and staff: a transactional outbox, templates, channels (SMS
through Kannel, email over SMTP), delivery reports and inbound messages."""
