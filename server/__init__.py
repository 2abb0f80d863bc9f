"""The Clinicdesk server: single source of truth for every clinic."""
