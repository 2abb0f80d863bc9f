"""Worklists: what staff must look at (changes that need attention, booking requests)."""
