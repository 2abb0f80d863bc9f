"""Clinic settings on the desk: working hours, closures, types, rooms, booking rules,
workstations and staff."""
