"""Messages: SMS and e-mail conversations with patients."""
