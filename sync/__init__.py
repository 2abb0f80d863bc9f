"""Carries changes between desk and server: the protocol messages, the desk's local store
and its sync engine. ``sync.protocol`` is the only part the server may import."""
