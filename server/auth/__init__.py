"""Who is calling: device enrollment, staff sign-in and the per-request auth context."""
