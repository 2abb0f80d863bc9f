"""Staff users, enrolled workstations (devices) and sign-in sessions."""
