"""Typed errors: a status, a machine-readable code and words, rebuilt from the wire."""

from __future__ import annotations

import pytest

from common import errors
from common.errors import ERRORS_BY_CODE, DomainError, error_from_code


def every_error_class():
    found = {DomainError}
    pending = [DomainError]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub.__module__ == errors.__name__ and sub not in found:
                found.add(sub)
                pending.append(sub)
    return found


def test_every_error_class_is_known_by_its_own_code():
    # The base class has a code of its own too, and is the fallback for unknown codes.
    classes = every_error_class()

    assert set(ERRORS_BY_CODE.values()) == classes
    assert len({cls.code for cls in classes}) == len(classes), "two errors share a code"
    for code, cls in ERRORS_BY_CODE.items():
        assert cls.code == code


@pytest.mark.parametrize("code", sorted(ERRORS_BY_CODE))
def test_error_from_code_round_trips(code):
    original = ERRORS_BY_CODE[code]("Something a person can act on.")

    rebuilt = error_from_code(original.code, original.message)

    assert type(rebuilt) is type(original)
    assert (rebuilt.code, rebuilt.status, rebuilt.message) == (
        original.code,
        original.status,
        original.message,
    )
    assert str(rebuilt) == original.message


@pytest.mark.parametrize("code", ["teapot", "", "WRONG_CREDENTIALS"])
def test_unknown_codes_fall_back_to_a_domain_error(code):
    rebuilt = error_from_code(code, "The server said no.")

    assert type(rebuilt) is DomainError
    assert rebuilt.message == "The server said no."


def test_statuses_are_client_errors():
    for cls in every_error_class():
        assert 400 <= cls.status < 500


def test_credential_errors_are_all_not_authenticated():
    for code in ("wrong_credentials", "device_token_expired", "session_expired"):
        rebuilt = error_from_code(code, "Sign in again.")
        assert isinstance(rebuilt, errors.NotAuthenticated)
        assert rebuilt.status == 401
