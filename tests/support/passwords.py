"""Password hashes for test logins at argon2's lowest cost.

An argon2 hash records its own cost, and the server checks a password at the cost its
hash was made with. The server's hashes cost 64 MiB and about a tenth of a second of a
core each, and a suite that signs in thousands of times spends minutes on them: the
logins tests make for themselves (the factory's staff, the demo template's two) are
hashed cheaply instead. The server's own hashing (new accounts, changed passwords, the
dummy hash for unknown addresses, the demo as ``clinicdesk seed-demo`` makes it) keeps
its real cost, and the tests of it see that cost.
"""

from __future__ import annotations

from argon2 import PasswordHasher

_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def cheap_password_hash(password: str) -> str:
    """An argon2id hash of ``password`` that the server checks in microseconds."""
    return _CHEAP.hash(password)
