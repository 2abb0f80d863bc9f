"""Patients of a clinic. Never hard-deleted; every read is audited."""
