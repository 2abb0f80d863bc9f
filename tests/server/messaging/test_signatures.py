"""Webhook signatures, checked as Twilio and SendGrid document them."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from server.messaging.signatures import sendgrid_valid, twilio_signature, twilio_valid

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "To": "+18005551212",
    "CallSid": "CA1234567890ABCDE",
    "From": "+14158675309",
    "Digits": "1234",
    "Caller": "+14158675309",
}


def by_hand() -> str:
    """Twilio's recipe, step by step: the URL, then each name and value sorted by name."""
    signed = (
        "https://mycompany.com/myapp.php?foo=1&bar=2"
        "CallSid" "CA1234567890ABCDE"
        "Caller" "+14158675309"
        "Digits" "1234"
        "From" "+14158675309"
        "To" "+18005551212"
    )  # fmt: skip
    return base64.b64encode(hmac.new(b"12345", signed.encode(), hashlib.sha1).digest()).decode()


def test_the_twilio_signature_follows_the_documented_recipe():
    assert twilio_signature(TOKEN, URL, PARAMS) == by_hand()
    # …and equals the example Twilio's own libraries and documentation use.
    assert twilio_signature(TOKEN, URL, PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_genuine_twilio_request_is_valid():
    assert twilio_valid(TOKEN, URL, PARAMS, by_hand())


@pytest.mark.parametrize(
    ("url", "params"),
    [
        (URL, {**PARAMS, "Digits": "1235"}),  # a tampered value
        (URL, {**PARAMS, "Extra": "1"}),  # an added parameter
        (URL, {k: v for k, v in PARAMS.items() if k != "Digits"}),  # a removed one
        (URL.replace("https://", "http://"), PARAMS),  # another scheme
        (URL.replace("foo=1", "foo=2"), PARAMS),  # another query
        ("https://mycompany.com/myapp.php", PARAMS),  # the query left off
        ("https://evil.example/myapp.php?foo=1&bar=2", PARAMS),  # another host
    ],
)
def test_anything_changed_is_not_valid(url, params):
    assert not twilio_valid(TOKEN, url, params, by_hand())


@pytest.mark.parametrize("header", [None, "", "garbage", by_hand()[:-2]])
def test_a_missing_or_malformed_header_is_not_valid(header):
    assert not twilio_valid(TOKEN, URL, PARAMS, header)


def test_the_wrong_auth_token_is_not_valid():
    assert not twilio_valid("54321", URL, PARAMS, by_hand())


def test_the_default_port_may_or_may_not_have_been_signed():
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    signed_with_port = twilio_signature(TOKEN, with_port, PARAMS)

    assert twilio_valid(TOKEN, URL, PARAMS, signed_with_port)
    assert twilio_valid(TOKEN, with_port, PARAMS, by_hand())
    other_port = twilio_signature(TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2", PARAMS)
    assert not twilio_valid(TOKEN, URL, PARAMS, other_port)


def test_a_repeated_name_signs_each_of_its_values_sorted():
    pairs = [("To", "+18005551212"), ("Media", "b"), ("Media", "a")]
    signed = "https://x.example/hook" "Media" "a" "Media" "b" "To" "+18005551212"  # fmt: skip
    expected = base64.b64encode(hmac.new(b"tok", signed.encode(), hashlib.sha1).digest()).decode()

    assert twilio_signature("tok", "https://x.example/hook", pairs) == expected
    assert twilio_valid("tok", "https://x.example/hook", pairs, expected)
    assert not twilio_valid("tok", "https://x.example/hook", pairs[:2], expected)


# --- SendGrid ---------------------------------------------------------------------------

NOW = 1_700_000_000.0
BODY = b'[{"email":"jane@example.org","event":"delivered","sg_event_id":"e1"}]'


@pytest.fixture(scope="module")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_b64(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def sign(key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """What SendGrid does: ECDSA P-256 / SHA-256 over timestamp + body, base64 DER."""
    der = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(der).decode()


def test_a_genuine_sendgrid_post_is_valid(signing_key):
    timestamp = str(int(NOW) - 10)

    assert sendgrid_valid(
        public_b64(signing_key), sign(signing_key, timestamp, BODY), timestamp, BODY, NOW
    )


def test_a_tampered_body_or_timestamp_is_not_valid(signing_key):
    timestamp = str(int(NOW) - 10)
    signature = sign(signing_key, timestamp, BODY)
    key = public_b64(signing_key)

    assert not sendgrid_valid(key, signature, timestamp, BODY.replace(b"delivered", b"bounce"), NOW)
    assert not sendgrid_valid(key, signature, str(int(NOW) - 11), BODY, NOW)


def test_another_key_is_not_valid(signing_key):
    timestamp = str(int(NOW))
    other = ec.generate_private_key(ec.SECP256R1())

    assert not sendgrid_valid(public_b64(other), sign(signing_key, timestamp, BODY), timestamp,
                              BODY, NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("age", "valid"), [(0, True), (299, True), (301, False), (-59, True), (-61, False)]
)
def test_stale_or_future_timestamps_are_refused(signing_key, age, valid):
    timestamp = str(int(NOW) - age)

    result = sendgrid_valid(
        public_b64(signing_key), sign(signing_key, timestamp, BODY), timestamp, BODY, NOW
    )

    assert result is valid


@pytest.mark.parametrize(
    ("key", "signature", "timestamp"),
    [
        ("valid", "not base64!", "ts"),
        ("valid", base64.b64encode(b"not a DER signature").decode(), "ts"),
        ("valid", "", "ts"),
        ("valid", None, "ts"),
        ("valid", "sig", None),
        ("valid", "sig", "yesterday"),
        ("not base64!", "sig", "ts"),
        (base64.b64encode(b"not a key").decode(), "sig", "ts"),
        ("ed25519", "sig", "ts"),
        ("", "sig", "ts"),
    ],
)
def test_garbage_is_not_valid_and_never_raises(signing_key, key, signature, timestamp):
    real_timestamp = str(int(NOW))
    keys = {
        "valid": public_b64(signing_key),
        "ed25519": public_b64(ed25519.Ed25519PrivateKey.generate()),
    }
    signatures = {"sig": sign(signing_key, real_timestamp, BODY)}

    assert not sendgrid_valid(
        keys.get(key, key),
        signatures.get(signature, signature) if signature else signature,
        real_timestamp if timestamp == "ts" else timestamp,
        BODY,
        NOW,
    )
