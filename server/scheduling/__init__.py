"""Providers and their appointments."""
