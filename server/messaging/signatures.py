"""Proof that a webhook call really comes from the provider, checked exactly as each
documents it. A check never raises: anything malformed is simply not proof (False), and
the endpoint answers 403 without reading further.

**Twilio** signs each request with ``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with
the account's auth token, over the full URL Twilio called followed by every POST
parameter, name then value, sorted by name. A name sent more than once contributes each
of its distinct values, sorted, as Twilio's own libraries do. The URL must be the public
one Twilio was given (scheme, host, port, path and query): behind a proxy, build it from
the configured public base URL, not from what the proxy forwarded.

**SendGrid**'s Event Webhook signs with ECDSA P-256 / SHA-256 over the
``X-Twilio-Email-Event-Webhook-Timestamp`` header followed by the raw body bytes; the
signature header ``X-Twilio-Email-Event-Webhook-Signature`` is base64 DER, and the public
key (from the SendGrid settings page) base64 DER SubjectPublicKeyInfo. A timestamp older
than ``max_age_seconds`` or more than a minute ahead of our clock is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_FUTURE_SKEW_SECONDS = 60

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def twilio_signature(auth_token: str, url: str, params: Params) -> str:
    """What Twilio puts in ``X-Twilio-Signature`` for a POST of ``params`` to ``url``.

    ``params`` is a mapping, or (name, value) pairs for a form that may repeat a name
    (from Starlette, ``form.multi_items()``: its ``items()`` keep one value per name).
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(values) for value in sorted(values[name])
    )
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_valid(auth_token: str, url: str, params: Params, header_value: str | None) -> bool:
    """Whether ``header_value`` is Twilio's signature of this request.

    Twilio has signed the URL both with and without an explicit default port (":443"),
    so both spellings of the same URL are accepted, and nothing else.
    """
    if not header_value or not auth_token:
        return False
    pairs = list(params.items() if isinstance(params, Mapping) else params)
    expected = header_value.strip().encode()
    return any(
        hmac.compare_digest(twilio_signature(auth_token, spelling, pairs).encode(), expected)
        for spelling in _port_spellings(url)
    )


def _port_spellings(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return [url]
    if default is None or port not in (None, default):
        return [url]
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}"))
    return [url, without, with_port]


def sendgrid_valid(
    public_key_b64: str,
    signature_b64: str | None,
    timestamp: str | None,
    body: bytes,
    now: float,
    max_age_seconds: float = 300,
) -> bool:
    """Whether SendGrid signed ``timestamp`` + ``body`` recently with this key."""
    if not signature_b64 or not timestamp or not public_key_b64:
        return False
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        return False
    if sent_at < now - max_age_seconds or sent_at > now + MAX_FUTURE_SKEW_SECONDS:
        return False
    try:
        key = load_der_public_key(base64.b64decode(public_key_b64, validate=True))
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (ValueError, binascii.Error, TypeError, UnsupportedAlgorithm):
        return False
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return False
    try:
        key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
