"""The portal's password policy: the rules that need no network, and the breach check
against Have I Been Pwned's range API, answered by respx in its documented shape (no
network in tests)."""

from __future__ import annotations

import asyncio
import hashlib
import logging

import httpx
import pytest
import respx

from common.errors import InvalidInput
from server.config import Settings
from server.portal.passwords import (
    BREACH_TIMEOUT,
    BREACHED_MESSAGE,
    breached,
    breached_sync,
    check_new_password,
    check_password_for_account,
    check_password_for_account_sync,
)

EMAIL = "jane.doe@example.org"
GOOD = "maple otter lantern fig"
HIBP = "https://api.pwnedpasswords.com"


def refusal(password: str, *, email: str = EMAIL, names: tuple[str, ...] = ()) -> str:
    with pytest.raises(InvalidInput) as refused:
        check_new_password(password, email=email, names=names)
    return refused.value.message


# --- rules without the network ------------------------------------------------------


def test_a_good_passphrase_is_accepted():
    check_new_password(GOOD, email=EMAIL, names=("Jane Doe",))


@pytest.mark.parametrize("password", ["", "          ", "\t\n  \u00a0       "])
def test_empty_or_only_whitespace_is_refused(password):
    assert "only spaces" in refusal(password)


def test_shorter_than_ten_characters_is_refused():
    assert refusal("Xq7#vLp2!") == "Choose a longer password: at least 10 characters."


def test_length_counts_characters_not_bytes():
    assert refusal("žluťoučký") == "Choose a longer password: at least 10 characters."  # 14 bytes
    check_new_password("čučoriedka žeriav", email=EMAIL)  # 17 characters, 23 bytes
    # "e" followed by a combining accent is one character as the patient sees it.
    decomposed = "ce\u0301dric-gâ"
    assert len(decomposed) == 10
    assert refusal(decomposed) == "Choose a longer password: at least 10 characters."


def test_longer_than_128_characters_is_refused_and_128_accepted():
    words = "maple otter lantern fig quartz "
    at_most = (words * 5)[:128]
    check_new_password(at_most, email=EMAIL)
    assert refusal(at_most + "x") == "Choose a shorter password: at most 128 characters."
    # 128 characters of two bytes each are still 128 characters.
    check_new_password(("čučoriedka žeriav " * 8)[:128], email=EMAIL)


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop", "PassWord1234", "QWERTYUIOP"])
def test_a_common_password_is_refused_whatever_its_case(password):
    assert refusal(password).startswith("That password is one of the most common ones")


@pytest.mark.parametrize(
    "password", ["jane.doe-rides-bikes", "Rides JANE.DOE bikes", "xjane.doe@example.org"]
)
def test_a_password_containing_the_email_is_refused(password):
    assert refusal(password).startswith("That password contains your e-mail address")


def test_a_very_short_local_part_does_not_refuse_unrelated_words():
    check_new_password("enjoy the maple lantern", email="jo@example.org")


def test_a_weak_password_is_refused_with_zxcvbn_advice():
    message = refusal("Margaret1962")
    assert message.startswith("That password would be easy to guess.")
    assert "names" in message.lower()  # zxcvbn's own warning, passed on
    assert message.endswith("for example three or four unrelated words.")
    assert refusal("abcdefghijkl").startswith("That password would be easy to guess.")


def test_the_patients_names_and_email_make_a_password_guessable():
    # Strong enough for a stranger, not for Margaret Thornbury herself.
    check_new_password("thornbury1962", email=EMAIL)
    message = refusal("thornbury1962", names=("Margaret Thornbury",))
    assert message.startswith("That password would be easy to guess.")
    # The local part's words count too, though the whole is not in the password.
    check_new_password("thornbury1962", email=EMAIL)
    assert refusal("thornbury1962", email="m.thornbury@example.org").startswith(
        "That password would be easy to guess."
    )


# --- the breach check ---------------------------------------------------------------


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


def range_body(*entries: tuple[str, int]) -> str:
    """The range API's answer: ``SUFFIX:COUNT`` lines (35 upper-case hex digits), CRLF
    separated, with padding lines of count 0 when ``Add-Padding`` is asked for."""
    return "\r\n".join(f"{suffix}:{count}" for suffix, count in entries)


def padding(n: int) -> list[tuple[str, int]]:
    return [
        (hashlib.sha1(str(i).encode(), usedforsecurity=False).hexdigest().upper()[5:], 0)
        for i in range(n)
    ]


def settings(*, check: bool = True, url: str = HIBP) -> Settings:
    return Settings(breached_passwords_check=check, breached_passwords_url=url)


def listing(password: str, count: int) -> httpx.Response:
    entries = [("0018A45C4D1DEF81644B54AB7F969B88D65", 1), *padding(20)]
    entries.insert(7, (sha1(password)[5:], count))
    return httpx.Response(200, text=range_body(*entries))


def test_a_listed_password_is_breached_and_only_the_prefix_is_sent():
    hashed = sha1(GOOD)
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{HIBP}/range/{hashed[:5]}").mock(return_value=listing(GOOD, 3861))
        assert asyncio.run(breached(GOOD, settings())) is True
    request = route.calls.last.request
    assert request.url.path == f"/range/{hashed[:5]}"
    assert request.headers["Add-Padding"] == "true"
    sent = str(request.url) + "".join(f"{k}:{v}" for k, v in request.headers.items())
    assert hashed[5:] not in sent.upper()
    assert GOOD not in sent
    assert request.extensions["timeout"]["read"] == BREACH_TIMEOUT


def test_a_padded_match_with_count_zero_is_not_breached():
    with respx.mock() as mock:
        mock.get(f"{HIBP}/range/{sha1(GOOD)[:5]}").mock(return_value=listing(GOOD, 0))
        assert asyncio.run(breached(GOOD, settings())) is False
        assert breached_sync(GOOD, settings()) is False


def test_a_password_absent_from_the_range_is_not_breached():
    with respx.mock() as mock:
        mock.get(f"{HIBP}/range/{sha1(GOOD)[:5]}").mock(
            return_value=httpx.Response(200, text=range_body(*padding(30)))
        )
        assert asyncio.run(breached(GOOD, settings())) is False


def test_the_sync_check_and_a_given_client_ask_the_configured_url():
    mirror = "https://hibp.mirror.test/pwned/"
    with respx.mock() as mock:
        route = mock.get(f"https://hibp.mirror.test/pwned/range/{sha1(GOOD)[:5]}").mock(
            return_value=listing(GOOD, 2)
        )
        assert breached_sync(GOOD, settings(url=mirror)) is True
        with httpx.Client() as client:
            assert breached_sync(GOOD, settings(url=mirror), client) is True

        async def with_client() -> bool | None:
            async with httpx.AsyncClient() as client:
                return await breached(GOOD, settings(url=mirror), client)

        assert asyncio.run(with_client()) is True
    assert route.call_count == 3
    assert all(call.request.headers["Add-Padding"] == "true" for call in route.calls)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="oops"),
        httpx.Response(429, text="Rate limit exceeded"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("no route to host"),
    ],
    ids=["500", "429", "connect-timeout", "read-timeout", "connect-error"],
)
def test_an_unreachable_service_answers_none_and_the_password_is_accepted(answer, caplog):
    caplog.set_level(logging.WARNING, logger="server.portal.passwords")
    with respx.mock() as mock:
        route = mock.get(f"{HIBP}/range/{sha1(GOOD)[:5]}")
        route.side_effect = answer if isinstance(answer, Exception) else None
        if not isinstance(answer, Exception):
            route.return_value = answer
        assert asyncio.run(breached(GOOD, settings())) is None
        assert breached_sync(GOOD, settings()) is None
        asyncio.run(check_password_for_account(GOOD, email=EMAIL, settings=settings()))
        check_password_for_account_sync(GOOD, email=EMAIL, settings=settings())
    assert route.call_count == 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    logged = caplog.text.upper()
    assert "COULD NOT BE ASKED" in logged
    assert GOOD.upper() not in logged
    assert sha1(GOOD)[:5] not in logged
    assert sha1(GOOD)[5:] not in logged


def test_a_breached_password_is_refused_for_an_account_when_the_check_is_on():
    with respx.mock() as mock:
        mock.get(f"{HIBP}/range/{sha1(GOOD)[:5]}").mock(return_value=listing(GOOD, 12))
        with pytest.raises(InvalidInput) as refused:
            asyncio.run(check_password_for_account(GOOD, email=EMAIL, settings=settings()))
        assert refused.value.message == BREACHED_MESSAGE
        with pytest.raises(InvalidInput) as refused:
            check_password_for_account_sync(GOOD, email=EMAIL, settings=settings())
        assert refused.value.message == BREACHED_MESSAGE


def test_with_the_check_off_nothing_is_asked():
    off = settings(check=False)
    assert Settings().breached_passwords_check is False  # the default
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__startswith=HIBP).mock(return_value=listing(GOOD, 12))
        asyncio.run(check_password_for_account(GOOD, email=EMAIL, settings=off))
        check_password_for_account_sync(GOOD, email=EMAIL, settings=off)
    assert not route.called
    assert not mock.calls


def test_a_password_refused_by_the_rules_is_never_sent_to_the_service():
    with respx.mock(assert_all_called=False) as mock:
        mock.get(url__startswith=HIBP).mock(return_value=httpx.Response(200, text=""))
        with pytest.raises(InvalidInput, match="most common"):
            asyncio.run(
                check_password_for_account("password1234", email=EMAIL, settings=settings())
            )
    assert not mock.calls
