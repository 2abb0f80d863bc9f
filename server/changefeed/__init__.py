"""The change feed desks pull from: per-clinic versions, tombstones, paged reads."""
