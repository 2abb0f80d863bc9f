"""Stand-in until field encryption lands: the blind index of a phone number."""

from __future__ import annotations

import hashlib
import hmac


def phone_index(e164: str) -> str:
    return hmac.new(b"clinicdesk-phone-index", e164.encode(), hashlib.sha256).hexdigest()[:32]
