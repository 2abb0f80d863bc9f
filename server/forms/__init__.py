"""Clinic forms, onboarding on the first booking, and video rooms."""
