"""Desk changes arriving from the outbox: each applied at most once, each answered."""
