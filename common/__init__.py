"""Domain rules shared by the desk and the server: no Qt, no web framework, no database."""
