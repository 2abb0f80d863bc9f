"""Web booking requests awaiting staff: listed, confirmed (which books them) or rejected."""
