"""A clinic's public practice page as its admins set it up from the desk: the profile, its
logo, preview links, and the opening hours the page shows."""
