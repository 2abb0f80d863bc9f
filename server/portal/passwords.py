"""Whether a new patient-portal password is acceptable.

How a password is kept is decided elsewhere: ``server.auth.security`` hashes it with
argon2id, which makes every guess against a stolen database slow. Slow does not help a
password that attackers try first, though, so this module refuses those: shorter than
10 characters, among the most common passwords, guessable from the patient's own e-mail
address or names (zxcvbn's estimate, given them), and, when
``Settings.breached_passwords_check`` is on, already seen in a data breach elsewhere.
There are no composition rules (a digit, a symbol): they make passwords harder to
remember, not to guess. Patients can always sign in by an e-mailed link instead, so a
refused password costs them little.

The breach check asks Have I Been Pwned's range API by k-anonymity: only the first five
hex digits of the password's SHA-1 leave the server, and the answer is padded so its size
says nothing either. It fails open: when the service cannot be asked, the password is
accepted, because signing up must not depend on a third party being up, and the checks
above have already refused the guessable passwords.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from collections.abc import Sequence

import httpx
from zxcvbn import zxcvbn  # type: ignore[import-untyped]
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

from common.errors import InvalidInput
from server.config import Settings

log = logging.getLogger(__name__)

MIN_LENGTH = 10
# Long enough for any passphrase; bounds the work of zxcvbn's estimate and of hashing.
MAX_LENGTH = 128
# zxcvbn's 3: over 10^8 guesses, "safely unguessable" against an online attack and
# moderately safe against a slow hash taken offline.
MIN_SCORE = 3
# The e-mail's part before the @ is refused inside a password from this length on: a
# shorter one ("jo") is part of too many unrelated words (zxcvbn still weighs it).
MIN_LOCAL_PART = 4
BREACH_TIMEOUT = 3.0

BREACHED_MESSAGE = (
    "That password has appeared in a data breach elsewhere, so criminals try it first. "
    "Choose another."
)

# zxcvbn's 30,000 most common passwords, lower-cased like the lookup.
_COMMON = frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])
# zxcvbn keeps the user inputs of a call in a module-level dictionary while it works:
# two threads at once would score each other's passwords against the wrong patient.
_zxcvbn_lock = threading.Lock()
_HEADERS = {"Add-Padding": "true", "User-Agent": "Clinicdesk"}


def check_new_password(password: str, *, email: str, names: Sequence[str] = ()) -> None:
    """Raise ``InvalidInput`` saying what to change when a patient should not use this
    password; return when it will do. Needs no network (see ``breached`` for that)."""
    if not password.strip():
        raise InvalidInput("Choose a password: it cannot be empty or only spaces.")
    # Characters as the patient sees them: "é" typed as e + accent is one.
    text = unicodedata.normalize("NFC", password)
    if len(text) < MIN_LENGTH:
        raise InvalidInput(f"Choose a longer password: at least {MIN_LENGTH} characters.")
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"Choose a shorter password: at most {MAX_LENGTH} characters.")
    lowered = text.lower()
    if lowered in _COMMON:
        raise InvalidInput(
            "That password is one of the most common ones, so it is easy to guess. Choose "
            "another, for example three or four unrelated words."
        )
    local_part = email.strip().rpartition("@")[0].lower()
    if len(local_part) >= MIN_LOCAL_PART and local_part in lowered:
        raise InvalidInput(
            "That password contains your e-mail address, which others know or can guess. "
            "Choose one that has nothing to do with it."
        )
    with _zxcvbn_lock:
        result = zxcvbn(text, user_inputs=_user_inputs(email, names), max_length=MAX_LENGTH)
    if result["score"] < MIN_SCORE:
        why = result["feedback"]["warning"]
        raise InvalidInput(
            "That password would be easy to guess."
            + (f" {why}" if why else "")
            + " Choose a longer one, for example three or four unrelated words."
        )


def _user_inputs(email: str, names: Sequence[str]) -> list[str]:
    """The e-mail, its local part and the names, whole and word by word, as zxcvbn's
    dictionary of words this patient's password should not lean on."""
    local_part = email.strip().rpartition("@")[0]
    words = [email, local_part, *names]
    for value in [local_part, *names]:
        words.extend(re.split(r"[\s._+-]+", value))
    return [word for word in words if word]


async def breached(
    password: str, settings: Settings, client: httpx.AsyncClient | None = None
) -> bool | None:
    """Whether the password is among those of known breaches; None when the service
    could not be asked (the caller then accepts the password)."""
    url, suffix = _range(password, settings)
    try:
        if client is None:
            async with httpx.AsyncClient() as own:
                response = await own.get(url, headers=_HEADERS, timeout=BREACH_TIMEOUT)
        else:
            response = await client.get(url, headers=_HEADERS, timeout=BREACH_TIMEOUT)
    except httpx.HTTPError as exc:
        _unasked(type(exc).__name__)
        return None
    return _listed(response, suffix)


def breached_sync(
    password: str, settings: Settings, client: httpx.Client | None = None
) -> bool | None:
    """``breached`` for code running in a request thread rather than an event loop."""
    url, suffix = _range(password, settings)
    try:
        if client is None:
            with httpx.Client() as own:
                response = own.get(url, headers=_HEADERS, timeout=BREACH_TIMEOUT)
        else:
            response = client.get(url, headers=_HEADERS, timeout=BREACH_TIMEOUT)
    except httpx.HTTPError as exc:
        _unasked(type(exc).__name__)
        return None
    return _listed(response, suffix)


async def check_password_for_account(
    password: str, *, email: str, names: Sequence[str] = (), settings: Settings
) -> None:
    """``check_new_password``, then the breach check when the settings turn it on."""
    check_new_password(password, email=email, names=names)
    if settings.breached_passwords_check and await breached(password, settings):
        raise InvalidInput(BREACHED_MESSAGE)


def check_password_for_account_sync(
    password: str, *, email: str, names: Sequence[str] = (), settings: Settings
) -> None:
    """``check_password_for_account`` for code running in a request thread."""
    check_new_password(password, email=email, names=names)
    if settings.breached_passwords_check and breached_sync(password, settings):
        raise InvalidInput(BREACHED_MESSAGE)


def _range(password: str, settings: Settings) -> tuple[str, str]:
    """The range URL (the hash's first five hex digits) and the rest of the hash, which
    never leaves the server."""
    digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
    return f"{settings.breached_passwords_url.rstrip('/')}/range/{digest[:5]}", digest[5:]


def _listed(response: httpx.Response, suffix: str) -> bool | None:
    """Whether ``SUFFIX:COUNT`` lines list the suffix with a count; padding lines, made up
    to hide the answer's size, have a count of 0 and do not count."""
    if response.status_code != 200:
        _unasked(f"HTTP {response.status_code}")
        return None
    for line in response.text.splitlines():
        candidate, _, count = line.strip().partition(":")
        if candidate.upper() == suffix:
            return count.strip().isdecimal() and int(count) > 0
    return False


def _unasked(why: str) -> None:
    # Never the password nor its hash: the log is read by more people than the database.
    log.warning(
        "The breached-password service could not be asked (%s); the new password was "
        "accepted without that check.",
        why,
    )
