"""Treatment plans in phases, with progress notes and photos."""
