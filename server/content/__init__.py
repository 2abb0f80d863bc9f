"""The clinic's educational content library, and what of it each patient was given."""
