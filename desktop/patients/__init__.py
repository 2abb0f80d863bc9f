"""The patient file: find, register, edit, history."""
