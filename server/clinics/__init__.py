"""Clinics: the tenants. Everything else belongs to exactly one."""
