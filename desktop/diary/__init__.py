"""The diary: every provider's day or week, booking, moving, the waiting room."""
