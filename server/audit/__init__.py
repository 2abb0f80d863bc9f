"""Append-only audit trail of every access to patient data."""
