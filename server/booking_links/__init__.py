"""Booking links and their rules (staff side) and manage links (sent with a booking)."""
