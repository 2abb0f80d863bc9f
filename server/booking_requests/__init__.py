"""Requests to book: web booking requests awaiting staff, and idempotency keys that make
a retried staff booking book nothing new."""
