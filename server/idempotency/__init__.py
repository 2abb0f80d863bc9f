"""Idempotency keys: a retried request (a lost response, a double click, a proxy that
resends) gets the first answer again and changes nothing new."""
